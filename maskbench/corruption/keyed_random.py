"""Counter-based random numbers keyed by (seed, epoch, example index, stream, position).

Why not torch.Generator: a stateful generator ties an example's corruption to its batch-mates and to
how the batch is split across processes. A hash of the example's key gives every example the same
corruption whatever the batch, the rank count or the device, and stays a batched tensor op.
All arithmetic stays below 2**63 so int64 tensors never overflow (32-bit lanes, split multiplies).
"""

from __future__ import annotations

import torch

M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2**32 for 0 <= x < 2**32, computed without int64 overflow."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + ((x * hi) & 0xFFFF) * 65536) & M32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 (C. Wellons): a well-mixed 32-bit integer hash on int64 tensors."""
    x = x & M32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def example_keys(seed: int, epoch: int, indices: torch.Tensor) -> torch.Tensor:
    """One 32-bit key per example; training uses epoch >= 0, validation a fixed epoch of -1."""
    s = hash32(torch.tensor(seed & M32, dtype=torch.int64))
    e = hash32(s + (epoch & M32) + 0x9E3779B9)
    return hash32(e + (indices.to(torch.int64) & M32))


class KeyedRandom:
    """Uniform draws for a batch of example keys. Draw j of a stream is the same for any n > j."""

    def __init__(self, keys: torch.Tensor):
        self.keys = keys.to(torch.int64)

    def uniform(self, stream: int, n: int) -> torch.Tensor:
        """[B, n] float32 in [0, 1): 24 random bits each."""
        base = hash32(self.keys + hash32(torch.tensor(stream * 0x632BE5AB + 1, dtype=torch.int64)))
        pos = torch.arange(n, device=self.keys.device, dtype=torch.int64)
        h = hash32(base[:, None] + _mul32(pos, 0x9E3779B9)[None, :])
        h = hash32(h ^ base[:, None])
        return (h >> 8).to(torch.float32) * (1.0 / (1 << 24))

    def integers(self, stream: int, n: int, low, high) -> torch.Tensor:
        """[B, n] int64 uniform in [low, high) (low/high: ints or [B, 1] tensors)."""
        u = self.uniform(stream, n).to(torch.float64)
        return (low + torch.floor(u * (high - low))).to(torch.int64)
