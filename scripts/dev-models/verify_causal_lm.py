"""Check a causal-LM folder (onnx/model.onnx with input_ids/attention_mask/position_ids -> logits)
under onnxruntime: compares last-position logits with the PyTorch reference written by
convert_gguf_llama.py, then greedy-decodes an answer to a chat prompt (chat_template from
tokenizer_config.json, rendered with jinja2) with no KV cache, re-running the full sequence.

The export may return logits for the last position only ([batch, 1, vocab], the converter's default)
or for every position ([batch, sequence, vocab], --all-logits); either way only the last position is
read. The reference batch is left-padded, so the last position is every row's real last token.

Needs onnxruntime, tokenizers, numpy, jinja2 (the pyenv python3 here).
usage: verify_causal_lm.py MODEL_DIR [REFERENCE_JSON] [--max-new-tokens N]
"""
import argparse
import json
import os
import sys

import jinja2
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("reference", nargs="?")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--prompt", default="What is the capital of France?")
    a = ap.parse_args()

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(a.model_dir, "onnx", "model.onnx"), so, providers=["CPUExecutionProvider"])
    result = {
        "model": a.model_dir,
        "inputs": [i.name for i in sess.get_inputs()],
        "outputs": [o.name for o in sess.get_outputs()],
    }
    ok = True
    if a.reference:
        ref = json.load(open(a.reference))
        feeds = {k: np.array(ref[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "position_ids")}
        every = sess.run(["logits"], feeds)[0]
        batch, length = feeds["input_ids"].shape
        result["logits_shape"] = list(every.shape)
        if every.ndim != 3 or every.shape[0] != batch or every.shape[1] not in (1, length):
            raise SystemExit(f"logits shape {list(every.shape)}: want [{batch}, 1 or {length}, vocab]")
        logits = every[:, -1]
        want = np.array(ref["logits_last"], dtype=np.float32)
        diff = float(np.abs(logits - want).max())
        same_argmax = bool((logits.argmax(-1) == want.argmax(-1)).all())
        result["max_abs_logit_diff_vs_pytorch"] = round(diff, 6)
        result["argmax_matches_pytorch"] = same_argmax
        ok = ok and same_argmax and diff < 1e-2

    tok = Tokenizer.from_file(os.path.join(a.model_dir, "tokenizer.json"))
    cfg = json.load(open(os.path.join(a.model_dir, "tokenizer_config.json")))
    template = jinja2.Environment().from_string(cfg["chat_template"])
    text = template.render(messages=[{"role": "user", "content": a.prompt}], add_generation_prompt=True)
    ids = tok.encode(text, add_special_tokens=False).ids
    eos = tok.token_to_id(cfg["eos_token"])
    out = []
    for _ in range(a.max_new_tokens):
        n = len(ids)
        feeds = {
            "input_ids": np.array([ids], dtype=np.int64),
            "attention_mask": np.ones((1, n), dtype=np.int64),
            "position_ids": np.arange(n, dtype=np.int64)[None],
        }
        nxt = int(sess.run(["logits"], feeds)[0][0, -1].argmax())
        if nxt == eos:
            break
        ids.append(nxt)
        out.append(nxt)
    result["prompt_tokens"] = len(ids) - len(out)
    result["prompt"] = a.prompt
    result["greedy_answer"] = tok.decode(out)
    result["roundtrip_ok"] = tok.decode(tok.encode("Hello, world! 12345 café", add_special_tokens=False).ids) == "Hello, world! 12345 café"
    ok = ok and result["roundtrip_ok"] and len(out) > 0
    print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
