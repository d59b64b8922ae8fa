"""Export a Hugging Face BERT-style encoder (safetensors/pytorch weights) to ONNX.

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx) plus `transformers`.
The graph matches the HF Optimum / Xenova "feature-extraction" export:
inputs  input_ids, attention_mask[, token_type_ids]  int64 [batch_size, sequence_length]
output  last_hidden_state                            float [batch_size, sequence_length, hidden]

Also writes <out>/reference.json: the sentence-transformers style embedding of a few
sentences computed by PyTorch (pooling from 1_Pooling/config.json, then L2 norm), used by
verify_embedder.py to check the ONNX file under onnxruntime.

usage: export_encoder.py SRC_DIR OUT_ONNX REFERENCE_JSON
"""
import json
import os
import sys

import torch

torch.set_num_threads(int(os.environ.get("DEV_MODELS_THREADS", "1")))

from transformers import AutoModel, AutoTokenizer  # noqa: E402

SENTENCES = ["hello world", "The quick brown fox jumps over the lazy dog."]


def main(src: str, out_onnx: str, ref_json: str) -> None:
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModel.from_pretrained(src, attn_implementation="eager")
    model.eval()
    pooling = json.load(open(os.path.join(src, "1_Pooling", "config.json")))
    use_cls = bool(pooling.get("pooling_mode_cls_token"))

    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in enc:
        names.append("token_type_ids")
    args = tuple(enc[n] for n in names)

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *xs):
            kw = dict(zip(names, xs))
            return self.inner(**kw, return_dict=True).last_hidden_state

    wrapped = Wrapper(model).eval()
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    dyn["last_hidden_state"] = {0: "batch_size", 1: "sequence_length"}
    os.makedirs(os.path.dirname(out_onnx), exist_ok=True)
    tmp = out_onnx + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            args,
            tmp,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=dyn,
            opset_version=14,
            do_constant_folding=True,
        )
        hidden = wrapped(*args)
    import onnx

    onnx.checker.check_model(tmp)
    os.replace(tmp, out_onnx)

    mask = enc["attention_mask"].unsqueeze(-1).float()
    if use_cls:
        emb = hidden[:, 0]
    else:
        emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    emb = torch.nn.functional.normalize(emb, dim=-1)
    with open(ref_json, "w") as f:
        json.dump(
            {
                "source": "PyTorch (transformers %s, torch %s) on the packaged safetensors weights"
                % (__import__("transformers").__version__, torch.__version__),
                "pooling": "cls" if use_cls else "mean",
                "sentences": SENTENCES,
                "embeddings": emb.tolist(),
            },
            f,
        )
    print(f"exported {out_onnx} inputs={names} output=last_hidden_state")


if __name__ == "__main__":
    main(*sys.argv[1:4])
