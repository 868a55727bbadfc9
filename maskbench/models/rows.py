"""Some positions of a batch, as a flat row list and as padded per-example query slots.

An encoder trained with MLM needs its final states only where there is a label (~15% of positions) and at
position 0 when NSP reads it. The last block's keys and values still come from every position, but its
queries, attention output, feed-forward and final LayerNorm can run at those rows alone: the same numbers,
about a sixth of the encoder's FLOPs saved at four layers. `Rows` turns between the three layouts that needs:
[B, S, D] states, [N, D] rows (row-major, the order of `x[mask]`), and [B, W, D] query slots padded to the
most rows any example has (so attention stays one batched call)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Rows:
    batch: torch.Tensor     # [N] example of each row
    position: torch.Tensor  # [N] position of each row
    slot: torch.Tensor      # [N] its index among its example's rows
    width: int              # most rows in one example (>= 1)

    @classmethod
    def where(cls, mask: torch.Tensor) -> "Rows":
        """The True positions of a [B, S] mask, in `x[mask]` order."""
        batch, position = mask.nonzero(as_tuple=True)
        slot = (mask.cumsum(1) - 1)[batch, position]
        width = max(1, int(mask.sum(1).max())) if mask.numel() else 1
        return cls(batch, position, slot, width)

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """[B, S, D] -> [N, D]."""
        return x[self.batch, self.position]

    def to_slots(self, rows: torch.Tensor, n_examples: int) -> torch.Tensor:
        """[N, D] -> [B, W, D], zeros in the unused slots."""
        out = rows.new_zeros(n_examples, self.width, rows.shape[-1])
        return out.index_put((self.batch, self.slot), rows)

    def from_slots(self, slots: torch.Tensor) -> torch.Tensor:
        """[B, W, D] -> [N, D]."""
        return slots[self.batch, self.slot]
