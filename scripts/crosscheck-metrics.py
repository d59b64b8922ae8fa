#!/usr/bin/env python3
"""Reference numbers for src/eval/metrics.ts, computed by pytrec_eval (trec_eval's own code).

Usage:
    python3 scripts/crosscheck-metrics.py QRELS_TSV RUN_FILE [--per-query]

QRELS_TSV is a BEIR qrels file (query-id, corpus-id, score; header line optional); RUN_FILE is a TREC
run (qid Q0 docid rank score tag). Prints JSON with the mean nDCG@10, Recall@100 and MRR@10 over the
queries that have at least one label > 0, the same query set as evaluateRun in TypeScript: queries
without a relevant judgment are skipped, judged queries missing from the run count as 0.

pytrec_eval has no cutoff for reciprocal rank, so MRR@10 is taken from its uncut recip_rank:
1/rank >= 1/10 exactly when the first relevant document is within the top 10.

Needs: pip install pytrec-eval-terrier   (or pytrec-eval)
"""
import argparse
import json
import sys

try:
    import pytrec_eval
except ImportError:
    sys.exit("pytrec_eval is not installed: pip install pytrec-eval-terrier")


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                sys.exit(f"{path}:{number}: expected 3 tab-separated fields, got {len(fields)}")
            query_id, doc_id, score = (field.strip() for field in fields)
            try:
                label = int(score)
            except ValueError:
                if number == 1:
                    continue  # the BEIR header line
                sys.exit(f"{path}:{number}: score must be an integer, got {score!r}")
            qrels.setdefault(query_id, {})[doc_id] = label
    return qrels


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                sys.exit(f"{path}:{number}: expected 6 fields (qid Q0 docid rank score tag), got {len(fields)}")
            query_id, _, doc_id, _, score, _ = fields
            run.setdefault(query_id, {})[doc_id] = float(score)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("qrels")
    parser.add_argument("run")
    parser.add_argument("--per-query", action="store_true", help="also print each query's values")
    args = parser.parse_args()

    qrels = read_qrels(args.qrels)
    run = read_run(args.run)
    evaluated = [q for q, labels in qrels.items() if any(label > 0 for label in labels.values())]
    evaluator = pytrec_eval.RelevanceEvaluator(
        {q: qrels[q] for q in evaluated}, {"ndcg_cut.10", "recall.100", "recip_rank"}
    )
    scores = evaluator.evaluate({q: run[q] for q in evaluated if q in run})

    per_query = {}
    for query_id in evaluated:
        values = scores.get(query_id)
        if values is None:  # judged but not retrieved for: 0, as trec_eval -c would count it
            per_query[query_id] = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
            continue
        rr = values["recip_rank"]
        per_query[query_id] = {
            "ndcg@10": values["ndcg_cut_10"],
            "recall@100": values["recall_100"],
            "mrr@10": rr if rr >= 0.1 - 1e-12 else 0.0,
        }

    count = len(per_query)
    mean = {
        name: (sum(values[name] for values in per_query.values()) / count) if count else float("nan")
        for name in ("ndcg@10", "recall@100", "mrr@10")
    }
    report = {
        "tool": f"pytrec_eval {getattr(pytrec_eval, '__version__', '')}".strip(),
        "queries": count,
        "missing_from_run": sum(1 for q in evaluated if q not in run),
        **mean,
    }
    if args.per_query:
        report["per_query"] = per_query
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
