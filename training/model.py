"""Qwen3 with a depth-1 LoRA, duo-causal attention and TaH's MLPIterDecider, in plain PyTorch.

Parameter names follow Hugging Face's Qwen3ForCausalLM (model.embed_tokens, model.layers.{i}.self_attn.q_proj, ...)
so that export is a rename-free dump. The TaH parts follow ../shared/docs/tah-inference.md: depth 0 is the
backbone without LoRA (§2); depth 1 reads the soft embedding of the top-k depth-0 logits at the same RoPE
position, runs every layer with the one LoRA (§3), and its logits are added to depth 0's; attention between
depths is duo-causal (§5): a query at (p, d) sees key (p', d') iff p' <= p and d' <= d.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LoRALinear(nn.Module):
    """A bias-free Linear whose optional LoRA (scale alpha / r) is switched on per call, as TaH does per depth."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.normal_(self.weight, std=0.02)
        self.lora_A = None
        self.lora_B = None
        self.scale = 0.0

    def add_lora(self, r, alpha):
        # PEFT's initialisation: A Kaiming-uniform, B zero, so that depth 1 starts as the plain backbone.
        self.lora_A = nn.Parameter(torch.empty(r, self.weight.shape[1]))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(self.weight.shape[0], r))
        self.scale = alpha / r

    def forward(self, x, lora=False):
        y = F.linear(x, self.weight)
        if lora and self.lora_A is not None:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale
        return y


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, nh, nkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
        self.nh, self.nkv, self.hd = nh, nkv, hd
        self.q_proj = LoRALinear(h, nh * hd)
        self.k_proj = LoRALinear(h, nkv * hd)
        self.v_proj = LoRALinear(h, nkv * hd)
        self.o_proj = LoRALinear(nh * hd, h)
        self.q_norm = RMSNorm(hd, cfg["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, cfg["rms_norm_eps"])

    def forward(self, x, cos, sin, mask, past_kv, lora):
        b, t, _ = x.shape
        q = self.q_norm(self.q_proj(x, lora).view(b, t, self.nh, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x, lora).view(b, t, self.nkv, self.hd)).transpose(1, 2)
        v = self.v_proj(x, lora).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        own = (k, v)
        if past_kv:
            k = torch.cat([kv[0] for kv in past_kv] + [k], dim=2)
            v = torch.cat([kv[1] for kv in past_kv] + [v], dim=2)
        if self.nh != self.nkv:
            # query head j uses KV head j // (nh / nkv), as in HF's repeat_kv and llama.cpp
            k = k.repeat_interleave(self.nh // self.nkv, dim=1)
            v = v.repeat_interleave(self.nh // self.nkv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.nh * self.hd), lora), own


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = LoRALinear(cfg["hidden_size"], cfg["intermediate_size"])
        self.up_proj = LoRALinear(cfg["hidden_size"], cfg["intermediate_size"])
        self.down_proj = LoRALinear(cfg["intermediate_size"], cfg["hidden_size"])

    def forward(self, x, lora):
        return self.down_proj(F.silu(self.gate_proj(x, lora)) * self.up_proj(x, lora), lora)


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, past_kv, lora):
        attn, own = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_kv, lora)
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x), lora), own


class Qwen3Body(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        nn.init.normal_(self.embed_tokens.weight, std=0.02)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class Qwen3(nn.Module):
    """Qwen3ForCausalLM with tied embeddings. `run` is one pass at one depth over (possibly sparse) positions."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Qwen3Body(cfg)
        hd = cfg["head_dim"]
        self.register_buffer("inv_freq", 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd)),
                             persistent=False)
        # Scale residual-branch outputs down with depth (GPT-2 style) so that training starts stable.
        for layer in self.model.layers:
            nn.init.normal_(layer.self_attn.o_proj.weight, std=0.02 / math.sqrt(2 * cfg["num_hidden_layers"]))
            nn.init.normal_(layer.mlp.down_proj.weight, std=0.02 / math.sqrt(2 * cfg["num_hidden_layers"]))

    def add_lora(self, r, alpha):
        for module in self.modules():
            if isinstance(module, LoRALinear):
                module.add_lora(r, alpha)

    def lora_parameters(self):
        return [p for name, p in self.named_parameters() if "lora_" in name]

    def backbone_parameters(self):
        return [p for name, p in self.named_parameters() if "lora_" not in name]

    def embed(self, ids):
        return self.model.embed_tokens(ids)

    def logits(self, hidden):
        return F.linear(self.model.norm(hidden), self.model.embed_tokens.weight)

    def run(self, embeds, pos, valid, depth, past=(), taps=(), lora=False, want_logits=True):
        """One pass at `depth` over embeds [B,T,H] at positions pos [B,T] (valid [B,T] marks padding).

        past: earlier passes ("streams") whose keys this pass may see, each a dict with kv (per layer),
        pos, valid and depth. Visibility is duo-causal. Returns logits, the tapped hidden states
        (index k = input of layer k, HF hidden_states[k]) and this pass as a stream.
        """
        key_pos = torch.cat([s["pos"] for s in past] + [pos], dim=1)
        key_valid = torch.cat([s["valid"] & (s["depth"] <= depth) for s in past] + [valid], dim=1)
        mask = key_valid[:, None, :] & (key_pos[:, None, :] <= pos[:, :, None])
        # A padded query sees at least itself, so that its softmax stays finite (its output is never used).
        own = torch.zeros_like(mask)
        own[:, :, key_pos.shape[1] - pos.shape[1]:] = torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)
        mask = (mask | own)[:, None, :, :]

        freqs = pos[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None, :, :]
        cos, sin = emb.cos(), emb.sin()

        hidden, tapped, kv = embeds, {}, []
        for index, layer in enumerate(self.model.layers):
            if index in taps:
                tapped[index] = hidden
            hidden, own_kv = layer(hidden, cos, sin, mask, [s["kv"][index] for s in past], lora)
            kv.append(own_kv)
        stream = {"kv": kv, "pos": pos, "valid": valid, "depth": depth}
        return (self.logits(hidden) if want_logits else None), tapped, stream


def soft_embedding(model, logits, topk):
    """TaH's depth-1 input: softmax over the top-k logits, mixing the matching embedding rows."""
    values, ids = torch.topk(logits, topk, dim=-1)
    weights = torch.softmax(values, dim=-1)
    # Scatter into a dense [.., V] row and multiply: the same sum, without a [.., k, H] intermediate.
    dense = torch.zeros_like(logits).scatter(-1, ids, weights)
    return dense @ model.model.embed_tokens.weight


def gather_rows(x, index):
    """x [B,T,...] gathered at index [B,S] along T."""
    shape = index.shape + x.shape[2:]
    return x.gather(1, index.reshape(index.shape[0], -1, *([1] * (x.dim() - 2))).expand(shape))


def depth1(model, logits0, stream0, iterate, topk):
    """Depth 1 for the positions where iterate [B,T] is set, packed per row (in position order).

    Returns the final logits: depth 0's everywhere, plus depth 1's where a position iterated.
    """
    b, t = iterate.shape
    counts = iterate.sum(1)
    s = int(counts.max().item()) if b > 0 else 0
    if s == 0:
        return logits0
    # Stable sort puts iterating positions first, in position order.
    order = torch.sort((~iterate).to(torch.int8), dim=1, stable=True).indices[:, :s]
    valid = torch.arange(s, device=iterate.device)[None, :] < counts[:, None]
    pos = torch.where(valid, stream0["pos"].gather(1, order), torch.zeros_like(order))
    embeds = soft_embedding(model, gather_rows(logits0, order), topk)
    logits1, _, _ = model.run(embeds, pos, valid, 1, past=[stream0], lora=True)
    logits1 = logits1 * valid[..., None]
    return logits0.scatter_add(1, order[..., None].expand(-1, -1, logits0.shape[-1]), logits1)


class ClassifierBlock(nn.Module):
    def __init__(self, dim_in, dim_out, expansion, dropout):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dim_in)
        self.mlp = nn.Sequential(nn.Linear(dim_in, dim_in * expansion), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(dim_in * expansion, dim_out), nn.Dropout(dropout))
        self.dim_change = nn.Identity() if dim_in == dim_out else nn.Linear(dim_in, dim_out)

    def forward(self, x):
        return self.dim_change(x) + self.mlp(self.layer_norm(x))


class ClassifierBackbone(nn.Module):
    def __init__(self, hidden_dims, expansion, dropout):
        super().__init__()
        self.input_projection = nn.Linear(hidden_dims[0], hidden_dims[0])
        dims = list(hidden_dims) + [hidden_dims[-1]]
        self.blocks = nn.ModuleList(ClassifierBlock(dims[i], dims[i + 1], expansion, dropout)
                                    for i in range(len(hidden_dims)))
        self.output_layer = nn.Sequential(nn.LayerNorm(dims[-1]), nn.Linear(dims[-1], 1))

    def forward(self, x):
        x = self.input_projection(x)
        for block in self.blocks:
            x = block(x)
        return self.output_layer(x).squeeze(-1)


class MLPIterDecider(nn.Module):
    """TaH's decider (tah-inference.md §4.2): tapped residual streams + top-k raw logits -> logit z of P(hard)."""

    def __init__(self, topk, hidden_states_size, hidden_states_layer_nums, hidden_dims, expansion_factor=4,
                 dropout_rate=0.1, normalize_input=False, threshold=0.5, max_iter=2):
        super().__init__()
        assert not normalize_input, "only normalize_input=False is implemented (as in the released recipes)"
        self.topk = topk
        self.taps = list(hidden_states_layer_nums)
        self.logits_projection = nn.Linear(topk, hidden_states_size)
        self.combined_projection = nn.Linear(len(self.taps) * hidden_states_size + hidden_states_size, hidden_dims[0])
        self.backbone = ClassifierBackbone(hidden_dims, expansion_factor, dropout_rate)
        # Present in the reference state dict; its value is ignored at load (the config's threshold rules).
        self.threshold = nn.Parameter(torch.tensor(float(threshold)), requires_grad=False)

    def forward(self, tapped, logits):
        top = torch.topk(logits, self.topk, dim=-1).values
        features = torch.cat([tapped[k] for k in self.taps] + [self.logits_projection(top)], dim=-1)
        return self.backbone(self.combined_projection(features))


def count(parameters):
    return sum(p.numel() for p in parameters)
