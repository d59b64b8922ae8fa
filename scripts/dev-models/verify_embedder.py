"""Check a Funnel embedding-model folder under onnxruntime.

Needs a python with onnxruntime, tokenizers and numpy (the pyenv python3 here).
Reads tokenizer.json, 1_Pooling/config.json and onnx/model.onnx (or model.onnx), embeds
sentences with the folder's pooling + L2 norm, and compares them with a reference:
  --ref-json FILE   embeddings written by export_encoder.py (PyTorch on the original weights)
  --ref-dir DIR     another model folder (e.g. the fp32 export for a quantised one)
Also checks that a query ranks a relevant passage above an unrelated one.
Prints one JSON line; exits 1 if --min-cos is given and not met.

usage: verify_embedder.py MODEL_DIR [--ref-json F | --ref-dir D] [--min-cos X]
       [--query-prefix P] [--doc-prefix P]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SENTENCES = ["hello world", "The quick brown fox jumps over the lazy dog."]


class Embedder:
    def __init__(self, d: str):
        onnx_path = os.path.join(d, "onnx", "model.onnx")
        if not os.path.exists(onnx_path):
            onnx_path = os.path.join(d, "model.onnx")
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.sess.get_inputs()]
        self.outputs = [o.name for o in self.sess.get_outputs()]
        self.tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(512)
        pool = json.load(open(os.path.join(d, "1_Pooling", "config.json")))
        self.pooling = "cls" if pool.get("pooling_mode_cls_token") else "mean"

    def embed(self, texts):
        out = []
        for t in texts:  # one at a time: no padding effects
            e = self.tok.encode(t)
            feeds = {
                "input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64),
            }
            feeds = {k: v for k, v in feeds.items() if k in self.inputs}
            h = self.sess.run(["last_hidden_state"], feeds)[0][0]
            v = h[0] if self.pooling == "cls" else h.mean(0)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--ref-json")
    ap.add_argument("--ref-dir")
    ap.add_argument("--min-cos", type=float)
    ap.add_argument("--query-prefix", default="")
    ap.add_argument("--doc-prefix", default="")
    a = ap.parse_args()

    m = Embedder(a.model_dir)
    got = m.embed(SENTENCES)
    result = {
        "model": a.model_dir,
        "inputs": m.inputs,
        "outputs": m.outputs,
        "pooling": m.pooling,
        "dims": int(got.shape[1]),
        "hello_world_ids": m.tok.encode("hello world").ids,
    }
    ref = None
    if a.ref_json:
        ref = np.array(json.load(open(a.ref_json))["embeddings"], dtype=np.float64)
        result["reference"] = "pytorch:" + a.ref_json
    elif a.ref_dir:
        ref = Embedder(a.ref_dir).embed(SENTENCES)
        result["reference"] = "onnx:" + a.ref_dir
    if ref is not None:
        cos = [float(np.dot(g, r) / np.linalg.norm(g) / np.linalg.norm(r)) for g, r in zip(got, ref)]
        result["cosine_hello_world"] = round(cos[0], 6)
        result["cosine_min"] = round(min(cos), 6)

    q = m.embed([a.query_prefix + "What is the capital of France?"])[0]
    docs = m.embed(
        [
            a.doc_prefix + "Paris is the capital and most populous city of France.",
            a.doc_prefix + "Mitochondria generate most of the chemical energy of the cell.",
        ]
    )
    sims = docs @ q
    result["ranking_ok"] = bool(sims[0] > sims[1])
    result["ranking_sims"] = [round(float(s), 4) for s in sims]
    print(json.dumps(result))
    if a.min_cos is not None and ("cosine_min" not in result or result["cosine_min"] < a.min_cos):
        return 1
    if not result["ranking_ok"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
