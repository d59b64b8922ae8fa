"""Check Funnel's EmbeddingGemma folder under onnxruntime against sentence-transformers' output.

Reads the reference written by reference_embeddinggemma.py (committed at
scripts/dev-models/refs/embeddinggemma-300m.reference.json), applies each item's prompt from that file
(`task: search result | query: ` / `title: none | text: `), tokenises with the folder's tokenizer.json
(<bos> ... <eos>), cut to --max-length tokens like Funnel's tokenizer (content cut, special tokens
kept), runs onnx/model.onnx one text at a time and all texts as one right-padded batch, and prints one
JSON line with the cosines. Items longer than --max-length are reported but not held to --min-cos
(the reference saw the whole text). Exits 1 below --min-cos.

usage: verify_embeddinggemma.py MODEL_DIR REFERENCE_JSON [--min-cos 0.9999] [--max-length 2048]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("reference")
    ap.add_argument("--min-cos", type=float, default=0.9999)
    ap.add_argument("--max-length", type=int, default=2048)
    a = ap.parse_args()

    ref = json.load(open(a.reference))
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(os.environ.get("DEV_MODELS_THREADS", "1"))
    sess = ort.InferenceSession(os.path.join(a.model_dir, "onnx", "model.onnx"), so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(a.model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()

    seqs, cut = [], []
    for item in ref["items"]:
        ids = tok.encode(ref["prompts"][item["kind"]] + item["text"]).ids
        cut.append(len(ids) > a.max_length)
        if len(ids) > a.max_length:
            ids = ids[: a.max_length - 1] + [ids[-1]]
        seqs.append(ids)
    want = np.array([item["embedding"] for item in ref["items"]], dtype=np.float64)

    def run(batch):
        t = max(len(s) for s in batch)
        ids = np.array([s + [0] * (t - len(s)) for s in batch], dtype=np.int64)
        mask = np.array([[1] * len(s) + [0] * (t - len(s)) for s in batch], dtype=np.int64)
        return sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0].astype(np.float64)

    single = np.concatenate([run([s]) for s in seqs])
    batched = run(seqs)

    def cos(x, y):
        return (x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)

    c_single, c_batched = cos(single, want), cos(batched, want)
    held = [i for i in range(len(seqs)) if not cut[i]]
    sims = single[1] @ single[3], single[1] @ single[4]  # capital-of-France query vs Paris / mitochondria
    result = {
        "model": a.model_dir,
        "reference": a.reference,
        "reference_versions": ref.get("versions"),
        "tokens": [len(s) for s in seqs],
        "ref_tokens": [item["tokens"] for item in ref["items"]],
        "cut_to_max_length": [i for i in range(len(seqs)) if cut[i]],
        "cosine_single": [round(float(c), 6) for c in c_single],
        "cosine_batched": [round(float(c), 6) for c in c_batched],
        "cosine_min": round(float(min(c_single[held].min(), c_batched[held].min())), 6),
        "ranking_ok": bool(sims[0] > sims[1]),
        "norms": [round(float(n), 5) for n in np.linalg.norm(single, axis=-1)],
    }
    print(json.dumps(result))
    tokens_match = all(len(s) == item["tokens"] for s, item, c in zip(seqs, ref["items"], cut) if not c)
    if not tokens_match:
        print("token counts differ from sentence-transformers' tokenizer", file=sys.stderr)
    return 0 if result["cosine_min"] >= a.min_cos and result["ranking_ok"] and tokens_match else 1


if __name__ == "__main__":
    sys.exit(main())
