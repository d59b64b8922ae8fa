"""Rewrites a GGUF with its weight matrices in another llama.cpp quantization (Q8_0, Q4_0 or F16).

Why: the SmolLM2-135M GGUF reachable here is Q4_1, which llama.cpp's x86 CPU backend runs through its
generic dot-product path; Q4_0 and Q8_0 have repacked / llamafile GEMM kernels for prompt processing.
bench/llm/bench-llm-speed.ts compares the files side by side. Development only: the product reads
whatever GGUF a user points it at.

Each 2-D weight is dequantized (gguf-py) and quantized again to the target type; 1-D tensors (norms,
biases) and tensors whose rows do not divide into the target's blocks stay as they were. Metadata is
copied, with general.file_type updated.

usage: python3 scripts/dev-models/requantize_gguf.py IN.gguf OUT.gguf --type q8_0|q4_0|f16
"""
import argparse

import numpy as np
import gguf
from gguf import quants

TARGETS = {
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--type", choices=sorted(TARGETS), required=True)
    a = p.parse_args()
    qtype, ftype = TARGETS[a.type]
    reader = gguf.GGUFReader(a.input)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(a.output, arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        value = int(ftype) if field.name == gguf.Keys.General.FILE_TYPE else field.contents()
        writer.add_key_value(field.name, value, value_type, sub_type=sub_type)
    converted = []
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    for tensor in reader.tensors:
        shape = [int(x) for x in reversed(tensor.shape.tolist())]  # numpy order: rows, columns
        if len(shape) == 2 and shape[-1] % block == 0:
            weights = quants.dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
            data = weights.astype(np.float16) if qtype == gguf.GGMLQuantizationType.F16 else quants.quantize(weights, qtype)
            converted.append((tensor.name, data, qtype))
        else:
            converted.append((tensor.name, tensor.data, tensor.tensor_type))
    for name, data, kind in converted:
        writer.add_tensor(name, data, raw_dtype=kind if kind not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16) else None)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    kinds = {}
    for _, _, kind in converted:
        kinds[kind.name] = kinds.get(kind.name, 0) + 1
    print(f"{a.output}: {len(converted)} tensors {kinds}")


if __name__ == "__main__":
    main()
