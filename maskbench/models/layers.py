"""Shared Transformer blocks (attention through scaled_dot_product_attention).

Pre-LayerNorm by default rather than BERT's post-LN: it trains stably at the high learning rates that
small budgets need (cramming, nanoGPT) and is what most small-scale studies use. `norm="post"` builds
BERT's / BART's original blocks, so their public checkpoints load exactly (maskbench/interop/)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maskbench.models.rotary import Angles, rotate


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, cross: bool = False):
        super().__init__()
        self.n_heads, self.dropout, self.cross = n_heads, dropout, cross
        if cross:
            self.q = nn.Linear(d_model, d_model)
            self.kv = nn.Linear(d_model, 2 * d_model)
        else:
            self.qkv = nn.Linear(d_model, 3 * d_model)  # one matmul for q, k, v
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        return x.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)

    def forward(self, x, memory=None, attn_mask=None, is_causal: bool = False, angles: Angles | None = None):
        """`angles` (rotary positions, self-attention only) rotate the queries and keys."""
        if self.cross:
            q = self._heads(self.q(x))
            k, v = map(self._heads, self.kv(memory).chunk(2, dim=-1))
        else:
            q, k, v = map(self._heads, self.qkv(x).chunk(3, dim=-1))
            if angles is not None:
                q, k = rotate(q, angles), rotate(k, angles)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        B, H, T, Dh = y.shape
        return self.out(y.transpose(1, 2).reshape(B, T, H * Dh))

    def forward_at(self, x, rows, attn_mask=None, angles: Angles | None = None):
        """Self-attention output [N, D] at `rows` only (maskbench/models/rows.py), over keys at every position
        (`angles`: the rotary angles of all positions [S, d_head]; each query row takes its own position's)."""
        D = x.shape[-1]
        w, b = self.qkv.weight, self.qkv.bias
        k, v = map(self._heads, F.linear(x, w[D:], b[D:]).chunk(2, dim=-1))
        q_rows = F.linear(rows.take(x), w[:D], b[:D])
        if angles is not None:
            k = rotate(k, angles)
            N, Dh = q_rows.shape[0], D // self.n_heads
            q_rows = rotate(q_rows.view(N, self.n_heads, Dh), angles.take(rows.position)).reshape(N, D)
        q = self._heads(rows.to_slots(q_rows, x.shape[0]))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        B, H, W, Dh = y.shape
        return self.out(rows.from_slots(y.transpose(1, 2).reshape(B, W, H * Dh)))


def activation(name: str) -> nn.Module:
    """gelu (exact erf form: BERT's, BART's), gelu_tanh (GPT-2's approximation) or relu."""
    return {"gelu": lambda: nn.GELU(), "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
            "relu": lambda: nn.ReLU()}[name]()


class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float, act: str = "gelu"):
        super().__init__()
        self.up, self.down = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.act = activation(act)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.down(self.act(self.up(x))))


class Block(nn.Module):
    """Self-attention (+ optional cross-attention) + feed-forward, each with a residual; LayerNorm before
    each sub-layer (pre) or after each residual add (post: BERT, BART)."""

    def __init__(self, d_model, n_heads, d_ff, dropout, cross: bool = False, norm: str = "pre",
                 eps: float = 1e-5, act: str = "gelu"):
        super().__init__()
        self.post = norm == "post"
        self.ln1, self.attn = nn.LayerNorm(d_model, eps=eps), Attention(d_model, n_heads, dropout)
        self.cross = None
        if cross:
            self.ln_x, self.cross = nn.LayerNorm(d_model, eps=eps), Attention(d_model, n_heads, dropout, cross=True)
        self.ln2, self.ffn = nn.LayerNorm(d_model, eps=eps), FeedForward(d_model, d_ff, dropout, act)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, self_mask=None, is_causal=False, memory=None, memory_mask=None, angles=None):
        """`angles`: rotary positions for the self-attention (cross-attention has none: its queries and keys
        come from two sequences, whose offsets mean nothing; T5Gemma and Moonshine do the same)."""
        if self.post:
            x = self.ln1(x + self.drop(self.attn(x, attn_mask=self_mask, is_causal=is_causal, angles=angles)))
            if self.cross is not None:
                x = self.ln_x(x + self.drop(self.cross(x, memory=memory, attn_mask=memory_mask)))
            return self.ln2(x + self.ffn(x))
        x = x + self.drop(self.attn(self.ln1(x), attn_mask=self_mask, is_causal=is_causal, angles=angles))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.ln_x(x), memory=memory, attn_mask=memory_mask))
        return x + self.ffn(self.ln2(x))

    def forward_at(self, x, rows, self_mask=None, angles=None):
        """This (self-attention only) block's output [N, D] at `rows` alone: what an encoder's last block needs
        when the loss reads a few positions. The same numbers as `forward(x)` taken at those rows."""
        here = rows.take(x)
        if self.post:
            here = self.ln1(here + self.drop(self.attn.forward_at(x, rows, attn_mask=self_mask, angles=angles)))
            return self.ln2(here + self.ffn(here))
        here = here + self.drop(self.attn.forward_at(self.ln1(x), rows, attn_mask=self_mask, angles=angles))
        return here + self.ffn(self.ln2(here))


def key_padding_mask(pad_mask: torch.Tensor | None) -> torch.Tensor | None:
    """[B, S] True-at-padding -> SDPA boolean mask [B, 1, 1, S] True-where-attend (None: no padding,
    which keeps SDPA on its fastest kernel)."""
    if pad_mask is None:
        return None
    return (~pad_mask)[:, None, None, :]


class LMHead(nn.Module):
    """Vocabulary projection, optionally after BERT's dense+GELU+LayerNorm transform; weight tied to
    the input embedding when `tied` is given. Called on gathered positions only (sparse prediction)."""

    def __init__(self, d_model: int, vocab_size: int, transform: bool, tied: nn.Embedding | None,
                 eps: float = 1e-5, act: str = "gelu"):
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(d_model, d_model), activation(act), nn.LayerNorm(d_model, eps=eps)) \
            if transform else nn.Identity()
        self.tied = tied
        self.weight = None if tied is not None else nn.Parameter(torch.empty(vocab_size, d_model))
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        if self.weight is not None:
            nn.init.normal_(self.weight, std=0.02)

    @property
    def projection(self) -> torch.Tensor:
        return self.tied.weight if self.tied is not None else self.weight

    def forward(self, h):
        return F.linear(self.transform(h), self.projection, self.bias)

    def loss_sum(self, h, target, with_accuracy: bool = False):
        """(sum of cross-entropy, correct count or None) at these positions, fused and chunked."""
        from maskbench.models.fused_ce import argmax_correct, linear_cross_entropy

        x = self.transform(h)
        loss = linear_cross_entropy(x, self.projection, self.bias, target)
        correct = argmax_correct(x.detach(), self.projection.detach(), self.bias.detach(), target) \
            if with_accuracy else None
        return loss, correct


def init_weights(module: nn.Module) -> None:
    """BERT/GPT-2 style init: N(0, 0.02) weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
