"""GPT-BERT (Charpentier & Samuel 2024, "GPT or BERT: why not both?", the BabyLM 2024 winner): one encoder
trained on a mix of masked next-token prediction (MNTP) and causal language modelling.

Each example is drawn (keyed per example, like every maskbench corruption) to be
- masked (weight `mntp_weight`): BERT's selection of `mask_prob` of the text tokens, replaced 80/10/10; the
  prediction of a selected token is read at the position *before* it (MNTP: the encoder predicts the next token,
  as a causal LM does, so one head and one output convention serve both modes); attention is bidirectional;
- causal (weight `clm_weight`): the text unchanged, every next token predicted, under a causal attention mask.
The reference small config mixes 15 masked : 1 causal and moves the mask rate from 30% to 15% over the run
(corruption.mask_schedule=linear, conf/corruption/gpt_bert.yaml). The model kept is the plain encoder: it
fine-tunes, probes and exports as one.

Written against the objective API only (docs/objectives_api.md): this module and its YAML, found through
`objective: maskbench.corruption.gpt_bert:GptBert` as a user's own objective would be. Its hooks: `frame` (labels
shifted one position left; which rows are causal in Batch.extra), `loss_terms` (the encoder run with a per-row
attention mask); the standard FLOPs count holds (every position through every block, the vocabulary
projection at the labelled positions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, List, Optional

import torch

from maskbench.batch import IGNORE, Batch, Term
from maskbench.corruption.base import Diagnostics, Noise, Noised, frame_encoder, is_special
from maskbench.corruption.bert import replace_80_10_10
from maskbench.corruption.streams import streams_of
from maskbench.errors import MaskbenchError
from maskbench.config.schema.corruption import CorruptionConfig
from maskbench.config.schema.fields import option

S_MODE, S_SELECT, S_ACTION, S_RANDOM_ID = streams_of("gpt_bert", 4)


class GptBertCorruption(Noise):
    """Masked rows: BERT masking, labels at the selected positions; causal rows: the text, labels everywhere.
    Labels are aligned with the source here; `frame` shifts them to the position before."""

    def __call__(self, blocks, rng, partner=None) -> Noised:
        c, tokens = self.cfg, blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        causal = rng.uniform(S_MODE, 1)[:, 0].to(dev) < c.causal_share
        selectable = ~is_special(tokens, self.vocab)
        selected = selectable & (rng.uniform(S_SELECT, C).to(dev) < float(c.mask_prob)) & ~causal[:, None]
        source, action, random_ids = replace_80_10_10(
            tokens, selected, rng.uniform(S_ACTION, C).to(dev), rng.uniform(S_RANDOM_ID, C).to(dev),
            float(c.mask_token_prob), float(c.random_token_prob), self.vocab)
        labels = torch.where(selected | causal[:, None], tokens, IGNORE)
        diag = Diagnostics(original=tokens, selected=selected, action=action, random_ids=random_ids,
                           source_len=torch.full((B,), C, device=dev), per_block={"causal_frac": causal})
        return Noised(source=source, source_len=diag.source_len, diag=diag, mlm_labels=labels)

    def frame(self, noised: Noised, arch: str) -> Batch:
        """[CLS] source [SEP] with each label moved to the position before its token: the state at position p
        predicts the token at p + 1 (a causal row's [CLS] predicts the first token; nothing predicts [SEP])."""
        batch = frame_encoder(noised, self.vocab)
        shifted = torch.full_like(batch.labels, IGNORE)
        shifted[:, :-1] = batch.labels[:, 1:]
        batch.labels = shifted
        batch.extra = {"causal": noised.diag.per_block["causal_frac"]}
        return batch

    @classmethod
    def loss_terms(cls, cfg, model, batch) -> dict:
        """One next-token cross-entropy over every labelled position of both modes (the mix of the two is the
        mix of examples): the encoder run with bidirectional attention on masked rows, causal on causal rows."""
        x = states(model, batch)
        sel = batch.labels != IGNORE
        target = batch.labels[sel]
        loss, correct = model.lm_head.loss_sum(x[sel], target, with_accuracy=not model.training)
        return {"mlm": Term(loss, target.new_tensor(target.numel()),
                            correct if correct is not None else target.new_tensor(-1))}


def states(model, batch) -> torch.Tensor:
    """The encoder's final states [B, S, D] with a per-row attention mask: causal on the rows Batch.extra marks
    causal, bidirectional elsewhere (the encoder's own forward, with that mask instead of padding's alone)."""
    enc = model.encoder
    S = batch.input_ids.shape[1]
    causal = batch.extra["causal"].to(batch.input_ids.device)
    lower = torch.ones(S, S, dtype=torch.bool, device=causal.device).tril()
    attend = torch.where(causal[:, None, None, None], lower, True)  # [B, 1, S, S], True where attended
    if batch.pad_mask is not None:
        attend = attend & ~batch.pad_mask[:, None, None, :]
    x = enc.embed(batch.input_ids, batch.token_type_ids)
    angles = enc.angles(S)
    for block in enc.blocks:
        x = block(x, self_mask=attend, angles=angles)
    return enc.ln_f(x) if enc.ln_f is not None else x


@dataclass(frozen=True)
class GptBert(CorruptionConfig):
    """`corruption=gpt_bert`: the mix of masked next-token prediction and causal LM on one encoder."""

    implementation: ClassVar = GptBertCorruption
    rate_field: ClassVar[Optional[str]] = "mask_prob"
    collator_why_not: ClassVar[Optional[str]] = ("GPT-BERT's causal rows need a causal attention mask in the model, "
                                                 "which a collator cannot give")

    archs: List[str] = option(factory=lambda: ["encoder"])
    mask_prob: float = option(0.15, prob=True)
    mask_token_prob: float = option(0.8, prob=True)
    random_token_prob: float = option(0.1, prob=True)
    mntp_weight: float = option(15.0, low=0.0, hint="the share of masked examples, against clm_weight")
    clm_weight: float = option(1.0, low=0.0, hint="the share of causal examples, against mntp_weight")

    @property
    def causal_share(self) -> float:
        """The probability that an example is causal."""
        return self.clm_weight / (self.mntp_weight + self.clm_weight)

    def check(self) -> None:
        super().check()
        if self.mntp_weight + self.clm_weight <= 0:
            raise MaskbenchError("corruption.mntp_weight + corruption.clm_weight must be above 0 (the reference: 15 "
                                 "masked to 1 causal)")
        if self.mask_token_prob + self.random_token_prob > 1.0 + 1e-9:
            raise MaskbenchError("corruption.mask_token_prob + corruption.random_token_prob > 1: the [MASK]/random/"
                                 "kept shares must sum to at most 1")
        if self.mntp_weight == 0 and self.mask_schedule != "constant":
            raise MaskbenchError("corruption.mask_schedule moves the rate of the masked examples, and "
                                 "corruption.mntp_weight=0 has none: drop the schedule")

    def configured_stats(self) -> dict:
        masked = 1.0 - self.causal_share  # only the masked examples select tokens
        return {**super().configured_stats(), "selected_frac": self.mask_prob * masked,
                "mask_frac": self.mask_token_prob, "random_frac": self.random_token_prob,
                "kept_frac": 1 - self.mask_token_prob - self.random_token_prob, "causal_frac": self.causal_share}
