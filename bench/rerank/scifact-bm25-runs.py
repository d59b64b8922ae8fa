"""BM25 top-k runs for SciFact queries that the trained cross-encoder never saw, for calibrate-reranker.ts.

Uses the BM25 of scripts/dev-models/train_cross_encoder.py (Lucene k1 0.9 b 0.4) and its split: the
train queries after the 60-query dev hold-out and past the first 120 (those trained on) are the
calibration fit set; test queries are the evaluation set. Writes TREC run files.

usage: python3 bench/rerank/scifact-bm25-runs.py OUT_DIR [--fit-queries 100] [--test-queries 100] [--depth 10]
"""
import argparse, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "dev-models"))
import train_cross_encoder as t  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--fit-queries", type=int, default=100)
    p.add_argument("--test-queries", type=int, default=100)
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--trained-queries", type=int, default=120, help="train queries the model was trained on (skipped)")
    p.add_argument("--holdout", type=int, default=60)
    a = p.parse_args()
    sf = os.path.join(t.DATASETS, "scifact")
    corpus = {d["_id"]: f"{d.get('title', '')} {d['text']}".strip() for d in t.read_jsonl(os.path.join(sf, "corpus.jsonl"))}
    queries = {q["_id"]: q["text"] for q in t.read_jsonl(os.path.join(sf, "queries.jsonl"))}
    train = t.read_qrels(os.path.join(sf, "qrels", "train.tsv"))
    test = t.read_qrels(os.path.join(sf, "qrels", "test.tsv"))
    train_q, _dev = t.scifact_split(train, a.holdout)
    fit_q = train_q[a.trained_queries : a.trained_queries + a.fit_queries]
    test_q = list(test)[: a.test_queries]
    bm25 = t.Bm25(list(corpus.items()))
    os.makedirs(a.out, exist_ok=True)
    for name, qids in (("scifact-train-fit", fit_q), ("scifact-test", test_q)):
        with open(os.path.join(a.out, f"{name}.run"), "w") as f:
            for q in qids:
                for rank, (d, s) in enumerate(bm25.search(queries[q], a.depth), 1):
                    f.write(f"{q} Q0 {d} {rank} {s:.6f} bm25\n")
        print(f"{name}: {len(qids)} queries -> {os.path.join(a.out, name + '.run')}")


if __name__ == "__main__":
    main()
