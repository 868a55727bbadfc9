"""A complete objective written outside maskbench: random-token MLM (no [MASK] token at all).

Each non-special token is selected with probability `mask_prob` and replaced by a uniformly random text token;
the model predicts the original at the selected positions (like ELECTRA's corrective task, but as an MLM).
To use it, put this file and conf/corruption/my_objective.yaml (below) in your project folder, then:

    maskbench corrupt corruption=my_objective --stats
    maskbench pretrain corruption=my_objective train.max_steps=200

# conf/corruption/my_objective.yaml
name: my_objective
family: my_objective
objective: my_objective.py:RandomTokenMLM   # this file (next to ./conf, or in it) and the class below
archs: [encoder]
mask_prob: 0.15

docs/objectives_api.md walks through it; tests/test_objectives_api.py runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch

from maskbench.batch import IGNORE
from maskbench.corruption.base import RANDOM, UNTOUCHED, Diagnostics, Noise, Noised, is_special, random_text_ids
from maskbench.corruption.streams import streams_of
from maskbench.errors import MaskbenchError
from maskbench.config.schema.corruption import CorruptionConfig
from maskbench.config.schema.fields import option

# Each independent random decision reads its own stream; ids derived from the objective's name stay clear of
# every built-in objective's.
S_SELECT, S_RANDOM_ID = streams_of("my_objective", 2)


class RandomTokenCorruption(Noise):
    """The corruption: blocks of original tokens in, noised source + labels (+ diagnostics for --stats) out."""

    def __call__(self, blocks, rng, partner=None) -> Noised:
        tokens = blocks.tokens                                   # [B, C] text tokens of one block per example
        B, C = tokens.shape
        dev = tokens.device
        u = rng.uniform(S_SELECT, C).to(dev)                     # one uniform per example and position
        selected = ~is_special(tokens, self.vocab) & (u < self.cfg.mask_prob)
        random_ids = random_text_ids(rng.uniform(S_RANDOM_ID, C).to(dev), self.vocab)  # never a special token
        source = torch.where(selected, random_ids, tokens)
        diag = Diagnostics(original=tokens, selected=selected,
                           action=torch.where(selected, RANDOM, UNTOUCHED).to(torch.int8),
                           random_ids=torch.where(selected, random_ids, -1),
                           source_len=torch.full((B,), C, device=dev))
        # Labels aligned with the source: the original token where the loss reads, IGNORE elsewhere. maskbench
        # frames it ([CLS] ... [SEP]) and trains it with the standard masked-LM loss.
        return Noised(source=source, source_len=diag.source_len, diag=diag,
                      mlm_labels=torch.where(selected, tokens, IGNORE))


@dataclass(frozen=True)
class RandomTokenMLM(CorruptionConfig):
    """The objective: its config fields (checked, hashed into run names) and what maskbench asks of it."""

    implementation: ClassVar = RandomTokenCorruption           # the class above
    rate_field: ClassVar[Optional[str]] = "mask_prob"          # corruption.mask_schedule moves this rate
    mask_prob: float = option(0.15, prob=True)                 # a probability: checked to lie in [0, 1]

    def check(self) -> None:                                   # one line per refusal, as for a built-in one
        super().check()
        if self.mask_prob > 0.5:
            raise MaskbenchError(f"corruption.mask_prob={self.mask_prob}: random-token MLM above 0.5 leaves too "
                                 f"little context: give at most 0.5")

    def configured_stats(self) -> dict:                        # the 'configured' column of corrupt --stats
        return {**super().configured_stats(), "mask_frac": 0.0, "random_frac": 1.0, "kept_frac": 0.0}
