"""Reference vectors from the wordllama package itself (WordLlama.load(config='l2_supercat', dim=256),
embed(norm=True)), in the format of reference_embeddinggemma.py, so verify_embeddinggemma.py and
bench/matryoshka/check-embedder.ts check Funnel's wordllama folder the same way. WordLlama has no
query/document prompts. Needs a python with `wordllama==0.4.0.post1` installed (it loads the weights
shipped in its wheel; nothing is downloaded).

usage: reference_wordllama.py OUT_JSON
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

import wordllama
from wordllama import WordLlama

ITEMS = [
    ("query", "hello world"),
    ("query", "What is the capital of France?"),
    ("document", "Paris is the capital and most populous city of France."),
    ("document", "Mitochondria generate most of the chemical energy of the cell."),
    ("document", "0-dimensional biomaterials show inductive properties. " * 30),
]


def main(out: str) -> None:
    # wordllama 0.4.0.post1 looks for its bundled tokenizer under <package>/tokenizer/ but ships it in
    # <package>/tokenizers/, then tries the Hub; a cache folder holding that same file avoids the download.
    pkg = Path(wordllama.__file__).parent
    cache = Path(tempfile.mkdtemp(prefix="wordllama-cache-"))
    (cache / "tokenizers").mkdir()
    shutil.copy(pkg / "tokenizers" / "l2_supercat_tokenizer_config.json", cache / "tokenizers")
    wl = WordLlama.load(config="l2_supercat", dim=256, cache_dir=cache, disable_download=True)
    rows = []
    for kind, text in ITEMS:
        vec = wl.embed([text], norm=True)[0]
        tokens = len(wl.tokenizer.encode(text, add_special_tokens=False).ids)
        rows.append({"kind": kind, "text": text, "tokens": tokens, "embedding": [float(f"{x:.7g}") for x in vec.tolist()]})
    doc = {
        "model": "wordllama l2_supercat 256 (PyPI wordllama 0.4.0.post1)",
        "how": "WordLlama.load(config='l2_supercat', dim=256).embed([text], norm=True)",
        "prompts": {"query": "", "document": ""},
        "versions": {"wordllama": getattr(wordllama, "__version__", "0.4.0.post1")},
        "items": rows,
    }
    with open(out, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print(json.dumps({"written": out, "tokens": [r["tokens"] for r in rows]}))


if __name__ == "__main__":
    main(sys.argv[1])
