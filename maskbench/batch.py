"""The one batch type every part shares: corruptions produce it, fine-tuning tasks collate it, models,
losses and inspectors read it. `IGNORE` marks positions without loss (torch's cross-entropy ignore
index). Corruption diagnostics (what was selected, spans, moved sentences) ride along in `diag` for the
statistics and the terminal view; training drops them before moving a batch to the device."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # torch-free at import: task kinds and config validation read IGNORE
    import torch

IGNORE = -100


@dataclass
class Batch:
    input_ids: torch.Tensor                      # [B, S]
    labels: torch.Tensor                         # encoder: [B, S]; encoder-decoder: [B, T]; tasks: per task kind
    pad_mask: torch.Tensor | None = None         # [B, S] True at padding; None when there is none
    token_type_ids: torch.Tensor | None = None   # [B, S] segment ids (NSP, sentence pairs)
    decoder_input_ids: torch.Tensor | None = None
    decoder_positions: torch.Tensor | None = None
    nsp_labels: torch.Tensor | None = None       # [B] 0 = IsNext, 1 = NotNext
    diag: Any = field(default=None, repr=False)  # corruption.base.Diagnostics, optional
    # An objective's own tensors for its loss ({name: [B, ...] tensor}, e.g. which rows are causal): moved with
    # the batch, read only by that objective's loss_terms (corruption/base.py: Noise)
    extra: dict | None = None

    def to(self, device, non_blocking: bool = False) -> "Batch":
        def mv(t):
            return None if t is None else t.to(device, non_blocking=non_blocking)
        extra = None if self.extra is None else {k: mv(v) for k, v in self.extra.items()}
        return Batch(mv(self.input_ids), mv(self.labels), mv(self.pad_mask), mv(self.token_type_ids),
                     mv(self.decoder_input_ids), mv(self.decoder_positions), mv(self.nsp_labels), self.diag, extra)

    def drop_diagnostics(self) -> "Batch":
        self.diag = None
        return self


class Term(NamedTuple):
    """One named term of a training step's loss (an objective's loss_terms returns {name: Term}): the summed loss
    over `count` predictions and how many were right (-1 when not computed: training skips the argmax). The loop
    normalises each by its global count and adds them with `weight` (0: a share that is logged, not trained)."""
    loss_sum: "torch.Tensor"
    count: "torch.Tensor"
    correct: "torch.Tensor"
    weight: float = 1.0

