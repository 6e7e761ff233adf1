"""A tiny transformer, written out so every slide's symbol has a line of code.

One `Block` class serves both models of the course:

- `Encoder`: bidirectional, BERT-style, with a masked-language-model head (predicts [MASK]) and a
  [CLS] embedding for classification (Devlin et al. 2019).
- `Decoder`: causal, GPT-style, with a language-model head (predicts the next token).

Attention keeps explicit projections `W_q`, `W_k`, `W_v`, `W_o` (nn.Linear), so that a notebook can
write q_i = W^Q x_i as on the prefix-tuning slide, and so that a LoRA wrapper can replace one of them.

Extension points (the exercises plug in here; course_lib itself implements none of the techniques):

- `Attention.kv_hook(k, v, attn_mask) -> (k, v, attn_mask)`: called after the keys and values are
  projected; prefix tuning prepends trainable keys/values here.
- `Attention.head_gate`: one multiplier per head (all ones); head pruning and head importance
  (Michel et al. 2019) act on it.
- `Block.after_attn`, `Block.after_ffn`: identity modules applied to each sub-layer's output before
  the residual add; adapters go here (Houlsby et al. 2019).
- `Block.ffn`: any module mapping (B, T, d) to (B, T, d); a mixture-of-experts layer can replace it.
- `Attention.W_q` & co.: plain nn.Linear; LoRA wraps them.
- `forward(inputs_embeds=...)`: soft prompts are prepended to the token embeddings.
- `Model.blocks` is an nn.ModuleList: layer dropping slices it; a KV-cache decoding loop calls the
  blocks' pieces itself.

Layer norm is applied before each sub-layer (pre-LN), which trains stably at this size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TransformerConfig:
    """Sizes of the tiny transformer. The defaults are the bundled pre-trained encoder's."""

    vocab_size: int = 2000
    d_model: int = 64          # d on the slides
    n_heads: int = 4           # H
    n_layers: int = 4
    d_ff: int = 256            # hidden size of the feed-forward block
    max_len: int = 128         # longest sequence (positions are learned)
    dropout: float = 0.1
    causal: bool = False       # False: Encoder (BERT-style); True: Decoder (GPT-style)
    pad_id: int = 0

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


def causal_mask(t_q: int, t_k: int, device=None) -> torch.Tensor:
    """Boolean (t_q, t_k) mask, True where query i may attend to key j.

    Queries are the *last* t_q positions of the t_k keys, so j <= i + (t_k - t_q).
    """
    offset = t_k - t_q
    i = torch.arange(t_q, device=device)[:, None]
    j = torch.arange(t_k, device=device)[None, :]
    return j <= i + offset                                  # (t_q, t_k)


def scaled_dot_product_attention(q, k, v, attn_mask=None):
    """softmax(q k^T / sqrt(d_head)) v, written out.

    q: (B, H, T_q, d_head); k, v: (B, H, T_k, d_head);
    attn_mask: boolean, broadcastable to (B, H, T_q, T_k), True = may attend.
    Returns (output (B, H, T_q, d_head), attention weights (B, H, T_q, T_k)).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))   # (B, H, T_q, T_k)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)                    # (B, H, T_q, T_k)
    return weights @ v, weights                                # (B, H, T_q, d_head)


class Attention(nn.Module):
    """Multi-head self-attention with explicit W_q, W_k, W_v, W_o."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.d_head = cfg.d_head
        self.W_q = nn.Linear(d, d)      # q_i = W^Q x_i
        self.W_k = nn.Linear(d, d)      # k_i = W^K x_i
        self.W_v = nn.Linear(d, d)      # v_i = W^V x_i
        self.W_o = nn.Linear(d, d)      # mixes the heads back together
        self.dropout = nn.Dropout(cfg.dropout)
        self.register_buffer("head_gate", torch.ones(cfg.n_heads))  # xi_h, one per head
        self.kv_hook = None             # extension point, see the module docstring
        self.last_attention = None      # (B, H, T_q, T_k) of the last call, if keep_attention
        self.keep_attention = False

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, H, T, d_head)"""
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, T, d_head) -> (B, T, d)"""
        B, H, T, dh = x.shape
        return x.transpose(1, 2).reshape(B, T, H * dh)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self.split_heads(self.W_q(x))                  # (B, H, T, d_head)
        k = self.split_heads(self.W_k(x))                  # (B, H, T, d_head)
        v = self.split_heads(self.W_v(x))                  # (B, H, T, d_head)
        if self.kv_hook is not None:
            k, v, attn_mask = self.kv_hook(k, v, attn_mask)
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask)
        if self.keep_attention:
            self.last_attention = weights.detach()
        out = self.dropout(out) * self.head_gate.view(1, -1, 1, 1)   # gate each head
        return self.W_o(self.merge_heads(out))             # (B, T, d)


class FeedForward(nn.Module):
    """Position-wise feed-forward block: W_2 GELU(W_1 x)."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.W_1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.W_2 = nn.Linear(cfg.d_ff, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.W_2(F.gelu(self.W_1(x))))     # (B, T, d)


class Block(nn.Module):
    """x <- x + after_attn(Attn(LN(x)));  x <- x + after_ffn(FFN(LN(x)))."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.after_attn = nn.Identity()     # adapter slot
        self.ln_2 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg)         # MoE slot
        self.after_ffn = nn.Identity()      # adapter slot

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.after_attn(self.attn(self.ln_1(x), attn_mask))
        x = x + self.after_ffn(self.ffn(self.ln_2(x)))
        return x


class Embeddings(nn.Module):
    """Token embedding E(x) plus a learned position embedding."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(inputs_embeds + self.pos(position_ids))


class TinyTransformer(nn.Module):
    """Embeddings -> n_layers Blocks -> final LayerNorm -> LM head (tied to the token embedding).

    forward(input_ids | inputs_embeds, attention_mask) returns a dict with
    "hidden" (B, T, d) and "logits" (B, T, vocab); return_logits=False skips the LM head
    (a classifier needs only the hidden states, and the head is a third of the compute).
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.config = cfg
        self.embed = Embeddings(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=True)
        self.lm_head.weight = self.embed.tok.weight          # weight tying
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    @property
    def device(self) -> torch.device:
        return self.embed.tok.weight.device

    def build_mask(self, attention_mask: torch.Tensor | None, T: int) -> torch.Tensor | None:
        """Boolean (B or 1, 1, T, T) mask from a (B, T) padding mask of 1s and 0s (and causality)."""
        mask = None
        if attention_mask is not None:
            mask = attention_mask.bool()[:, None, None, :]               # (B, 1, 1, T)
        if self.config.causal:
            c = causal_mask(T, T, device=self.device)[None, None]       # (1, 1, T, T)
            mask = c if mask is None else (mask & c)
        if attention_mask is not None:   # a padding query that sees no key attends to itself
            mask = mask | torch.eye(T, dtype=torch.bool, device=self.device)[None, None]
        return mask

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, position_ids=None,
                return_logits=True):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed.tok(input_ids)                    # (B, T, d)
        B, T, _ = inputs_embeds.shape
        if T > self.config.max_len:
            raise ValueError(f"sequence of {T} tokens is longer than max_len={self.config.max_len}")
        if position_ids is None:
            position_ids = torch.arange(T, device=inputs_embeds.device)[None].expand(B, T)
        x = self.embed(inputs_embeds, position_ids)                      # (B, T, d)
        mask = self.build_mask(attention_mask, T)
        for block in self.blocks:
            x = block(x, mask)
        hidden = self.ln_f(x)                                            # (B, T, d)
        logits = self.lm_head(hidden) if return_logits else None         # (B, T, V)
        return {"hidden": hidden, "logits": logits}


class Encoder(TinyTransformer):
    """Bidirectional encoder with an MLM head. hidden[:, 0] is the [CLS] embedding."""

    def __init__(self, cfg: TransformerConfig):
        if cfg.causal:
            raise ValueError("an Encoder needs causal=False")
        super().__init__(cfg)


class Decoder(TinyTransformer):
    """Causal decoder with a next-token LM head."""

    def __init__(self, cfg: TransformerConfig):
        if not cfg.causal:
            raise ValueError("a Decoder needs causal=True")
        super().__init__(cfg)


class CLSClassifier(nn.Module):
    """Classification with the [CLS] embedding: logits = W h_[CLS] + b (the lecture's first recipe)."""

    def __init__(self, encoder: Encoder, num_labels: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.d_model, num_labels)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           inputs_embeds=inputs_embeds, return_logits=False)
        return self.head(out["hidden"][:, 0])                            # (B, num_labels)
