"""Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer"): positions as rotations of query and key pairs.

Each head's dimensions are split into pairs, and pair i of a query or key at position p is rotated by the angle
p * theta^(-2i/d_head). A query at p and a key at q then meet through their rotations' difference, so attention
scores depend on the offset p - q alone: a model has relative positions from its first step, where a learned
absolute table must first learn them (the MLM plateau, docs/results.md).

Pairs are neighbours (dimension 2i with 2i+1), as in the RoFormer paper, transformers' RoFormer and Meta's Llama
reference code, so that a pair is one complex number and the rotation one complex multiplication: measured here
on a 2 x 128 encoder's attention (batch 32 x 128, fp32, 2 threads), rotating queries and keys adds 1.1 ms to an
8 ms attention forward and backward, against 5 ms for the rotate-half formulation (neg, cat, two products and a
sum). ESM, ModernBERT and GPT-NeoX pair dimension i with i + d/2 instead: the same function once the query and key
rows of each head are reordered, which is what an export to ESM applies (maskbench/interop/families.py). Angles
are computed as transformers computes them (float32, positions times inverse frequencies), so exported models
agree to float precision."""

from __future__ import annotations

import torch
from torch import nn


def inverse_frequencies(head_dim: int, theta: float) -> torch.Tensor:
    """theta^(-2i/d) for i = 0 .. d/2 - 1 (float32)."""
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))


class Angles:
    """e^(i * angle) of each position and pair: [T, d_head/2] complex (or [B, 1, T, d_head/2], or [N, 1, d_head/2]
    for given positions), broadcast against a query or key tensor's [..., T, d_head/2] pairs."""

    __slots__ = ("cis",)

    def __init__(self, cis: torch.Tensor):
        self.cis = cis

    def take(self, rows: torch.Tensor) -> "Angles":
        """The angles of some positions [N] of a [T, d/2] table, shaped for rows of heads [N, H, d/2]."""
        return Angles(self.cis[rows][:, None])


def rotate(x: torch.Tensor, angles: Angles) -> torch.Tensor:
    """x [..., T, d_head] with each neighbour pair rotated by its position's angle (same dtype as x)."""
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()  # complex halves are not supported (bf16)
    pairs = work.unflatten(-1, (-1, 2))
    if pairs.stride(-1) != 1 or any(s % 2 for s in pairs.stride()[:-1]) or pairs.storage_offset() % 2:
        pairs = pairs.contiguous()
    out = torch.view_as_real(torch.view_as_complex(pairs) * angles.cis).flatten(-2)
    return out if out.dtype == x.dtype else out.to(x.dtype)


class Rotary(nn.Module):
    """The angle table of one attention stack (no parameters, nothing in a checkpoint)."""

    def __init__(self, head_dim: int, max_positions: int, theta: float):
        super().__init__()
        self.head_dim, self.theta = head_dim, float(theta)
        freqs = torch.arange(max_positions, dtype=torch.float32)[:, None] * inverse_frequencies(head_dim, theta)
        self.register_buffer("cis", torch.polar(torch.ones_like(freqs), freqs), persistent=False)

    @property
    def max_positions(self) -> int:
        return self.cis.shape[0]

    def first(self, n: int) -> Angles:
        """Positions 0 .. n-1: [n, d_head/2]."""
        return Angles(self.cis[:n])

    def at(self, positions: torch.Tensor) -> Angles:
        """Given positions [B, T] -> [B, 1, T, d_head/2] (one per head, broadcast)."""
        return Angles(self.cis[positions][:, None])
