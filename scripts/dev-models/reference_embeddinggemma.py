"""Reference embeddings of EmbeddingGemma-300M from sentence-transformers itself (PyTorch).

Writes the JSON that verify_embeddinggemma.py compares the ONNX export (and bench/matryoshka's
TypeScript check compares Funnel's embedder) against: each text is embedded with
`encode_query` or `encode_document`, so the model's own prompts from config_sentence_transformers.json
are applied by sentence-transformers, not by us. Vectors are model outputs, not weights; the committed
file (scripts/dev-models/refs/embeddinggemma-300m.reference.json) lets the check run without this
heavy environment.

Needs a python with sentence-transformers >= 5.1, transformers >= 4.57 (bidirectional Gemma3) and
torch >= 2 (a venv; Debian's torch 1.13 is too old).

usage: reference_embeddinggemma.py SRC_DIR OUT_JSON
"""
import json
import os
import sys

import torch

torch.set_num_threads(int(os.environ.get("DEV_MODELS_THREADS", "1")))

import sentence_transformers  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

LONG = " ".join(
    f"Sentence {i} of a long abstract: tidal forces from the Moon and the Sun raise two bulges in the oceans." for i in range(40)
)
ITEMS = [
    ("query", "hello world"),
    ("query", "What is the capital of France?"),
    ("query", "0-dimensional biomaterials show inductive properties."),
    ("document", "Paris is the capital and most populous city of France."),
    ("document", "Mitochondria generate most of the chemical energy of the cell."),
    ("document", "The quick brown fox jumps over the lazy dog."),
    ("document", LONG),  # > 512 tokens: exercises the sliding window and the model's full length
]


def main(src: str, out: str) -> None:
    model = SentenceTransformer(src, device="cpu")
    model.eval()
    rows = []
    for kind, text in ITEMS:
        enc = model.encode_query if kind == "query" else model.encode_document
        vec = enc([text], convert_to_numpy=True, normalize_embeddings=False)[0]
        tokens = len(model.tokenizer(model.prompts[kind] + text)["input_ids"])
        rows.append({"kind": kind, "text": text, "tokens": tokens, "embedding": [float(f"{x:.7g}") for x in vec.tolist()]})
    doc = {
        "model": "google/embeddinggemma-300m (model.safetensors sha256 cbf5a783...2fd2)",
        "how": "sentence-transformers encode_query / encode_document, fp32, CPU; prompts from config_sentence_transformers.json",
        "prompts": {"query": model.prompts["query"], "document": model.prompts["document"]},
        "max_seq_length": model.max_seq_length,
        "versions": {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "items": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print(json.dumps({"written": out, "items": len(rows), "tokens": [r["tokens"] for r in rows], "versions": doc["versions"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
