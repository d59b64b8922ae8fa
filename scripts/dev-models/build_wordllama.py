"""Build a Funnel embedding folder from WordLlama's static token embeddings (PyPI wordllama, MIT).

WordLlama embeds a text as the mean of its tokens' rows of one matrix (Llama-2 tokenizer, no special
tokens, no truncation), then L2-normalises; it was trained Matryoshka-style so the leading 64/128/256
columns work on their own. This writes the same computation as an ONNX graph Funnel reads as `in-graph`:
  inputs  input_ids, attention_mask   int64 [batch_size, sequence_length]
  output  sentence_embedding          float [batch_size, dims]  (masked mean, not normalised: Funnel
                                      normalises, as WordLlama's embed(norm=True) does)
and a tokenizer.json whose post-processor is dropped, so Funnel's tokenizer adds no <s> (WordLlama
encodes with add_special_tokens=False).

usage: build_wordllama.py WEIGHTS.safetensors TOKENIZER_CONFIG.json OUT_DIR
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


def main(weights: str, tokenizer: str, out: str) -> None:
    tensors = load_file(weights)
    assert len(tensors) == 1, list(tensors)
    (name, emb), = tensors.items()
    emb = emb.astype(np.float32)
    vocab, dims = emb.shape
    # masked mean: sum_t E[ids[b,t]] * mask[b,t] / max(sum_t mask[b,t], 1)
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["tok"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["tok", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis_seq"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axis_seq"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count1"]),
        helper.make_node("Div", ["summed", "count1"], ["sentence_embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "wordllama",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch_size", dims])],
        [
            numpy_helper.from_array(emb, "embedding"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_last"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_seq"),
            numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="funnel build_wordllama.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    onnx.save(model, os.path.join(out, "onnx", "model.onnx"))

    tok = json.load(open(tokenizer))
    tok["post_processor"] = None  # WordLlama encodes with add_special_tokens=False
    tok["truncation"] = None
    tok["padding"] = None
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model_type": "wordllama-static", "vocab_size": int(vocab), "hidden_size": int(dims), "source_tensor": name}, f, indent=2)
        f.write("\n")
    print(json.dumps({"vocab": int(vocab), "dims": int(dims), "tensor": name, "out": out}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
