"""Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer"): positions as rotations of query and key pairs.

Each head's dimensions are split into pairs, and pair i of a query or key at position p is rotated by the angle
p * theta^(-2i/d_head). A query at p and a key at q then meet through their rotations' difference, so attention
scores depend on the offset p - q alone: a model has relative positions from its first step, where a learned
absolute table must first learn them (the MLM plateau, docs/results.md).

Pairs are the two halves of a head (dimension i with i + d_head/2: GPT-NeoX's `rotate_half`, as ModernBERT, ESM and
Llama pair them); RoFormer pairs neighbours (2i with 2i+1). The two compute the same function up to a fixed
permutation of the query and key projections' rows within each head, which is what an export to RoFormer applies
(maskbench/interop/families.py). Angles are computed the way transformers computes them (float32, positions times
inverse frequencies), so exported models agree to float precision."""

from __future__ import annotations

import torch
from torch import nn


def inverse_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """theta^(-2i/d) for i = 0 .. d/2 - 1 (float32)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the last dimension's halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate(x: torch.Tensor, angles: "Angles") -> torch.Tensor:
    """x [..., T, d_head] rotated by its positions' angles (cos, sin broadcastable to x)."""
    return x * angles.cos + rotate_half(x) * angles.sin


class Angles:
    """cos and sin of each position's angles, [T, d_head] (or [B, 1, T, d_head] for per-example positions)."""

    __slots__ = ("cos", "sin")

    def __init__(self, cos: torch.Tensor, sin: torch.Tensor):
        self.cos, self.sin = cos, sin

    def to(self, dtype: torch.dtype) -> "Angles":
        return self if self.cos.dtype == dtype else Angles(self.cos.to(dtype), self.sin.to(dtype))


class Rotary(nn.Module):
    """The angle tables of one attention stack (no parameters, nothing in a checkpoint)."""

    def __init__(self, head_dim: int, max_positions: int, theta: float):
        super().__init__()
        self.head_dim, self.theta = head_dim, float(theta)
        freqs = torch.arange(max_positions, dtype=torch.float32)[:, None] * inverse_frequencies(head_dim, theta)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    @property
    def max_positions(self) -> int:
        return self.cos.shape[0]

    def first(self, n: int) -> Angles:
        """Positions 0 .. n-1: [n, d_head]."""
        return Angles(self.cos[:n], self.sin[:n])

    def at(self, positions: torch.Tensor) -> Angles:
        """Given positions [B, T] -> [B, 1, T, d_head] (one per head broadcast)."""
        return Angles(self.cos[positions][:, None], self.sin[positions][:, None])

    def rows(self, positions: torch.Tensor) -> Angles:
        """Given flat positions [N] -> [N, d_head] (the sparse last block's query rows)."""
        return Angles(self.cos[positions], self.sin[positions])
