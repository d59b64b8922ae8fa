"""Writes ../shared/datasets/qa-pairs/<split>.jsonl as a BEIR folder plus a first-stage run, so
`npm run eval -- --first-stage` can rerank it like DL19 (a settings-selection set: the issue says to
choose reranking settings on SciFact train and qa-pairs dev, not on DL19's 43 queries).

Each question is a query; its candidate sentences are its documents (ids qid-N); qrels hold the
positive sentences only, so questions without a correct answer are not scored (the usual WikiQA
filtering). The first stage keeps the dataset's candidate order (scores n, n-1, ...).

usage: python3 bench/rerank/qa-pairs-beir.py OUT_DIR [--split dev] [--datasets ../shared/datasets]
"""
import argparse, json, os


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--split", default="dev")
    p.add_argument("--datasets", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets"))
    a = p.parse_args()
    rows = [json.loads(line) for line in open(os.path.join(a.datasets, "qa-pairs", f"{a.split}.jsonl"))]
    by_query = {}
    for row in rows:
        by_query.setdefault(row["qid"], {"query": row["query"], "candidates": []})["candidates"].append(row)
    os.makedirs(os.path.join(a.out, "qrels"), exist_ok=True)
    with open(os.path.join(a.out, "corpus.jsonl"), "w") as corpus, open(os.path.join(a.out, "queries.jsonl"), "w") as queries, \
            open(os.path.join(a.out, "qrels", "test.tsv"), "w") as qrels, open(os.path.join(a.out, "first-stage.run"), "w") as run:
        qrels.write("query-id\tcorpus-id\tscore\n")
        judged = 0
        for qid, group in by_query.items():
            queries.write(json.dumps({"_id": qid, "text": group["query"]}) + "\n")
            n = len(group["candidates"])
            positive = False
            for i, row in enumerate(group["candidates"]):
                doc = f"{qid}-{i}"
                corpus.write(json.dumps({"_id": doc, "title": "", "text": row["passage"]}) + "\n")
                run.write(f"{qid} Q0 {doc} {i + 1} {n - i} file-order\n")
                if row["label"] > 0:
                    qrels.write(f"{qid}\t{doc}\t1\n")
                    positive = True
            judged += positive
    print(f"{a.out}: {len(rows)} pairs, {len(by_query)} questions, {judged} with a correct answer (scored)")


if __name__ == "__main__":
    main()
