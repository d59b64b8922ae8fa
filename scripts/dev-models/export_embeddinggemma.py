"""Export EmbeddingGemma-300M (sentence-transformers folder) to one ONNX graph for Funnel.

The graph is the whole sentence-transformers pipeline, so Funnel's embedder reads it as `in-graph`
pooling:
  inputs  input_ids, attention_mask          int64 [batch_size, sequence_length]
  output  sentence_embedding                 float [batch_size, 768], L2-normalised
  = Gemma3TextModel (bidirectional attention, 24 layers) -> masked mean over every token (prompt,
    <bos> and <eos> included, as 1_Pooling says) -> 2_Dense 768->3072 -> 3_Dense 3072->768 (no bias,
    identity activation) -> L2 norm.

The encoder is written out here from the config (no transformers needed), so Debian's torch 1.13 can
export it: Gemma RMSNorm (x * (1 + w)), embeddings scaled by sqrt(768), q/k RMSNorm per head, RoPE
(theta 1e6 on the full-attention layers, 1e4 on the sliding ones), 3 query heads sharing 1 KV head,
scaling query_pre_attn_scalar^-0.5, GELU (tanh) gated MLP, sandwich norms. With
use_bidirectional_attention transformers lets a token see every key with |q - k| < sliding_window//2 + 1
(257) on the sliding layers and every key on the full layers; padding keys are masked.

Check: the ONNX output is compared under onnxruntime with this module's own PyTorch output here, and
(verify_embeddinggemma.py) with sentence-transformers' output, committed as a reference file.

usage: export_embeddinggemma.py SRC_DIR OUT_ONNX
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file

torch.set_num_threads(int(os.environ.get("DEV_MODELS_THREADS", "1")))


class RMSNorm(torch.nn.Module):
    def __init__(self, weight: torch.Tensor, eps: float):
        super().__init__()
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x):
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * (1.0 + self.weight)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class Layer(torch.nn.Module):
    def __init__(self, w, i: int, cfg: dict):
        super().__init__()
        p = f"layers.{i}."
        eps = cfg["rms_norm_eps"]
        lin = lambda name: torch.nn.Parameter(w[p + name + ".weight"], requires_grad=False)  # noqa: E731
        self.q, self.k, self.v, self.o = lin("self_attn.q_proj"), lin("self_attn.k_proj"), lin("self_attn.v_proj"), lin("self_attn.o_proj")
        self.gate, self.up, self.down = lin("mlp.gate_proj"), lin("mlp.up_proj"), lin("mlp.down_proj")
        self.q_norm = RMSNorm(w[p + "self_attn.q_norm.weight"], eps)
        self.k_norm = RMSNorm(w[p + "self_attn.k_norm.weight"], eps)
        self.in_norm = RMSNorm(w[p + "input_layernorm.weight"], eps)
        self.post_attn_norm = RMSNorm(w[p + "post_attention_layernorm.weight"], eps)
        self.pre_ff_norm = RMSNorm(w[p + "pre_feedforward_layernorm.weight"], eps)
        self.post_ff_norm = RMSNorm(w[p + "post_feedforward_layernorm.weight"], eps)
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg["num_key_value_heads"]
        self.head_dim = cfg["head_dim"]
        self.scaling = cfg["query_pre_attn_scalar"] ** -0.5
        self.sliding = cfg["layer_types"][i] == "sliding_attention"

    def forward(self, h, cos, sin, mask):
        b, t, _ = h.shape
        x = self.in_norm(h)
        q = torch.matmul(x, self.q.t()).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = torch.matmul(x, self.k.t()).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = torch.matmul(x, self.v.t()).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Grouped-query attention by broadcasting: queries [b, kv, group, t, d] against keys and values
        # [b, kv, 1, t, d]. (repeat_interleave exported with the trace's batch size baked in.)
        group = self.heads // self.kv_heads
        q = q.reshape(b, self.kv_heads, group, t, self.head_dim)
        k, v = k.unsqueeze(2), v.unsqueeze(2)
        scores = torch.matmul(q, k.transpose(3, 4)) * self.scaling + mask.unsqueeze(1)
        attn = torch.matmul(torch.softmax(scores, dim=-1), v).reshape(b, self.heads, t, self.head_dim)
        attn = attn.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        h = h + self.post_attn_norm(torch.matmul(attn, self.o.t()))
        x = self.pre_ff_norm(h)
        x = torch.matmul(gelu_tanh(torch.matmul(x, self.gate.t())) * torch.matmul(x, self.up.t()), self.down.t())
        return h + self.post_ff_norm(x)


class EmbeddingGemma(torch.nn.Module):
    def __init__(self, src: str):
        super().__init__()
        cfg = json.load(open(os.path.join(src, "config.json")))
        assert cfg["architectures"] == ["Gemma3TextModel"] and cfg.get("use_bidirectional_attention") is True, "not an EmbeddingGemma folder"
        assert cfg.get("rope_scaling") is None and cfg.get("attn_logit_softcapping") is None and cfg["hidden_activation"] == "gelu_pytorch_tanh"
        w = load_file(os.path.join(src, "model.safetensors"))
        self.embed = torch.nn.Parameter(w["embed_tokens.weight"], requires_grad=False)
        self.embed_scale = float(cfg["hidden_size"]) ** 0.5
        self.layers = torch.nn.ModuleList(Layer(w, i, cfg) for i in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(w["norm.weight"], cfg["rms_norm_eps"])
        self.window = cfg["sliding_window"] // 2 + 1
        hd = cfg["head_dim"]
        for name, base in (("inv_freq_global", cfg["rope_theta"]), ("inv_freq_local", cfg["rope_local_base_freq"])):
            self.register_buffer(name, 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd)), persistent=False)
        modules = json.load(open(os.path.join(src, "modules.json")))
        dense = [m["path"] for m in modules if m["type"].endswith("models.Dense")]
        assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Dense", "Dense", "Normalize"], modules
        pool = json.load(open(os.path.join(src, "1_Pooling", "config.json")))
        assert pool["pooling_mode_mean_tokens"] and pool.get("include_prompt", True), pool
        self.dense = torch.nn.ParameterList()
        for d in dense:
            dc = json.load(open(os.path.join(src, d, "config.json")))
            assert dc["bias"] is False and dc["activation_function"].endswith("Identity"), dc
            self.dense.append(torch.nn.Parameter(load_file(os.path.join(src, d, "model.safetensors"))["linear.weight"], requires_grad=False))

    def rope(self, inv_freq, t: int, device):
        pos = torch.arange(t, device=device).float()
        freqs = pos[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def forward(self, input_ids, attention_mask):
        t = input_ids.shape[1]
        h = self.embed[input_ids] * self.embed_scale
        keep = attention_mask[:, None, None, :].to(torch.bool)
        pos = torch.arange(t, device=input_ids.device)
        near = (pos[:, None] - pos[None, :]).abs() < self.window
        neg = torch.tensor(torch.finfo(torch.float32).min)
        zero = torch.tensor(0.0)
        full_mask = torch.where(keep, zero, neg)
        sliding_mask = torch.where(keep & near[None, None], zero, neg)
        cg, sg = self.rope(self.inv_freq_global, t, input_ids.device)
        cl, sl = self.rope(self.inv_freq_local, t, input_ids.device)
        for layer in self.layers:
            if layer.sliding:
                h = layer(h, cl, sl, sliding_mask)
            else:
                h = layer(h, cg, sg, full_mask)
        h = self.norm(h)
        m = attention_mask.to(h.dtype).unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        for wt in self.dense:
            pooled = torch.matmul(pooled, wt.t())
        return pooled / pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def main(src: str, out_onnx: str) -> None:
    model = EmbeddingGemma(src).eval()
    # Token ids, not text: Debian's `tokenizers` cannot read Gemma's tokenizer.json. <bos> ... <eos>,
    # lengths 5, 40 and 300 (past the 257-token sliding window), batched with right padding.
    g = torch.Generator().manual_seed(0)
    seqs = [[2] + torch.randint(3, 262000, (n - 2,), generator=g).tolist() + [1] for n in (5, 40, 300)]
    t = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (t - len(s)) for s in seqs], dtype=torch.int64)
    mask = torch.tensor([[1] * len(s) + [0] * (t - len(s)) for s in seqs], dtype=torch.int64)
    with torch.no_grad():
        batched = model(ids, mask)
        single = torch.cat([model(torch.tensor([s]), torch.tensor([[1] * len(s)])) for s in seqs])
    pad_cos = (batched * single).sum(-1)
    print(json.dumps({"tokens": [len(s) for s in seqs], "padded_vs_single_cos": [round(float(c), 7) for c in pad_cos]}))
    assert float(pad_cos.min()) > 0.99999, "padding changes the output"

    os.makedirs(os.path.dirname(out_onnx), exist_ok=True)
    tmp = out_onnx + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids[:2, :8], mask[:2, :8]),
            tmp,
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "sequence_length"},
                          "sentence_embedding": {0: "batch_size"}},
            opset_version=17,
            do_constant_folding=True,
        )
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:  # Debian's python has no onnxruntime: verify_embeddinggemma.py checks the file
        os.replace(tmp, out_onnx)
        return
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(os.environ.get("DEV_MODELS_THREADS", "1"))
    sess = ort.InferenceSession(tmp, so, providers=["CPUExecutionProvider"])
    got = sess.run(["sentence_embedding"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    cos = (got * batched.numpy()).sum(-1) / np.linalg.norm(got, axis=-1)
    print(json.dumps({"onnx_vs_torch_cos": [round(float(c), 7) for c in cos]}))
    assert float(cos.min()) > 0.99999, "ONNX export differs from the PyTorch module"
    os.replace(tmp, out_onnx)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
