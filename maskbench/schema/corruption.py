"""Schemas of the `corruption` group, one per family (maskbench/corruption/ has one module per family;
`family` picks the schema). Shares of masked positions are probabilities; the [MASK]/random/kept
split must leave a non-negative kept share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from maskbench.arch import ENCODER, ENCODER_DECODER
from maskbench.errors import MaskbenchError
from maskbench.schema.fields import option


# The rate a masking schedule moves, per family (maskbench/corruption/schedule.py).
RATE_FIELD = {"bert": "mask_prob", "span": "mask_prob", "electra": "mask_prob", "bart": "mask_prob",
              "mass": "span_frac", "t5": "noise_density"}
# The mean span length, per family with random-length spans (the configured column of `corrupt --stats`).
SPAN_FIELD = {"span": "mean_span_length", "t5": "mean_noise_span_length", "bart": "poisson_lambda"}


@dataclass(frozen=True)
class CorruptionConfig:
    name: str = "custom"
    family: str = "bert"
    archs: List[str] = option(factory=lambda: [ENCODER.name, ENCODER_DECODER.name])
    # constant: the family's rate throughout; linear / cosine: from it to mask_prob_end over the run's steps
    mask_schedule: str = option("constant", choices=("constant", "linear", "cosine"))
    mask_prob_end: Optional[float] = option(None, prob=True, hint="the rate at the end of the run")

    @property
    def reads_word_starts(self) -> bool:
        """Whether it needs the tokenizer's word-continuation table (whole-word masking)."""
        return False

    def configured_stats(self) -> dict:
        """What this config promises for the measures of `maskbench corrupt --stats` (measure -> value), for the
        table's 'configured' column; a measure it says nothing about is left out."""
        rate, span = RATE_FIELD.get(self.family), SPAN_FIELD.get(self.family)
        return {"selected_frac": getattr(self, rate) if rate else None, "specials_touched": 0,
                **({"span_len_mean": getattr(self, span)} if span else {})}

    def check(self) -> None:
        self._check_rates_mask_something()
        if self.mask_schedule == "constant":
            return
        field = RATE_FIELD.get(self.family)
        if field is None:
            raise MaskbenchError(f"corruption.mask_schedule={self.mask_schedule}: {self.name} has no masking rate to "
                                 f"schedule")
        if self.mask_prob_end is None:
            raise MaskbenchError(f"corruption.mask_schedule={self.mask_schedule} needs corruption.mask_prob_end, the "
                                 f"rate at the end of the run (it starts at corruption.{field})")


    def _check_rates_mask_something(self) -> None:
        """A rate of 0 gives blocks with nothing to predict: a loss of 0.0 that looks like a perfect model. BART
        is refused only when nothing at all changes the text (it may permute or rotate instead of masking)."""
        field = RATE_FIELD.get(self.family)
        if field is None:
            return
        rates = {field: getattr(self, field)}
        if self.mask_schedule != "constant" and self.mask_prob_end is not None:
            rates["mask_prob_end"] = self.mask_prob_end
        others = [getattr(self, f, 0.0) for f in ("permute_prob", "rotate_prob")]
        for key, rate in rates.items():
            if rate == 0 and not any(others):
                raise MaskbenchError(f"corruption.{key}=0 corrupts nothing, so there is nothing to predict (a loss "
                                     f"near 0.0 would look like a perfect model): give a rate above 0 (e.g. corruption.{key}=0.15)")


@dataclass(frozen=True)
class _MaskSplit(CorruptionConfig):
    """BERT's 80/10/10: of the selected positions, a share becomes [MASK], a share a random token."""
    mask_token_prob: float = option(0.8, prob=True)
    random_token_prob: float = option(0.1, prob=True)

    def configured_stats(self) -> dict:
        return {**super().configured_stats(), "mask_frac": self.mask_token_prob, "random_frac": self.random_token_prob,
                "kept_frac": 1 - self.mask_token_prob - self.random_token_prob}

    def check(self) -> None:
        super().check()
        total = self.mask_token_prob + self.random_token_prob
        if total > 1.0 + 1e-9:
            raise MaskbenchError(f"corruption.mask_token_prob + corruption.random_token_prob = {total:g} > 1: "
                                 f"the [MASK]/random/kept shares must sum to at most 1")


@dataclass(frozen=True)
class BertMasking(_MaskSplit):
    mask_prob: float = option(0.15, prob=True)
    exact_count: bool = False
    whole_word: bool = False
    nsp: bool = False

    @property
    def reads_word_starts(self) -> bool:
        return self.whole_word


@dataclass(frozen=True)
class SpanMasking(_MaskSplit):
    mask_prob: float = option(0.15, prob=True)
    mean_span_length: float = option(3.0, low=1.0)


@dataclass(frozen=True)
class MassSpan(_MaskSplit):
    archs: List[str] = option(factory=lambda: [ENCODER_DECODER.name])
    span_frac: float = option(0.5, prob=True)
    start_at_begin_prob: float = option(0.2, prob=True)
    start_at_end_prob: float = option(0.2, prob=True)

    def check(self) -> None:
        super().check()
        if self.start_at_begin_prob + self.start_at_end_prob > 1.0 + 1e-9:
            raise MaskbenchError("corruption.start_at_begin_prob + start_at_end_prob > 1: they must sum to at most 1")


@dataclass(frozen=True)
class T5Span(CorruptionConfig):
    archs: List[str] = option(factory=lambda: [ENCODER_DECODER.name])
    noise_density: float = option(0.15, prob=True)
    mean_noise_span_length: float = option(3.0, low=1.0)


@dataclass(frozen=True)
class BartNoise(CorruptionConfig):
    archs: List[str] = option(factory=lambda: [ENCODER_DECODER.name])
    span: str = option("poisson", choices=("none", "token", "poisson"))
    replace: str = option("mask", choices=("mask", "delete"))
    mask_prob: float = option(0.3, prob=True)
    poisson_lambda: float = option(3.0, above=0.0)
    random_token_prob: float = option(0.0, prob=True)
    permute_prob: float = option(0.0, prob=True)
    rotate_prob: float = option(0.0, prob=True)

    def configured_stats(self) -> dict:
        return {**super().configured_stats(), "random_frac": self.random_token_prob,
                "sentences_moved_frac": self.permute_prob, "rotated_frac": self.rotate_prob}


@dataclass(frozen=True)
class ElectraRTD(BertMasking):
    """ELECTRA's replaced-token detection: BERT-style selection for a small generator, whose samples the
    discriminator (the model that is kept) tells from the original at every position."""
    archs: List[str] = option(factory=lambda: [ENCODER.name])
    mask_token_prob: float = option(0.85, prob=True)
    random_token_prob: float = option(0.0, prob=True)
    generator_size: float = option(0.25, above=0.0, high=1.0)
    disc_weight: float = option(50.0, above=0.0)

    def check(self) -> None:
        super().check()
        if self.nsp:
            raise MaskbenchError("corruption=electra has no next-sentence prediction: drop corruption.nsp=true")


@dataclass(frozen=True)
class UL2(CorruptionConfig):
    """UL2's mixture of denoisers: each [mode (R | X | S), mean span length, rate], drawn with `weights`."""
    archs: List[str] = option(factory=lambda: [ENCODER_DECODER.name])
    denoisers: List[Any] = option(factory=lambda: [["R", 3, 0.15], ["R", 8, 0.15], ["X", 3, 0.5], ["X", 8, 0.5],
                                                   ["X", 64, 0.15], ["X", 64, 0.5], ["S", 0, 0.25]])
    weights: List[float] = option(factory=lambda: [2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0])

    def check(self) -> None:
        super().check()
        if len(self.weights) != len(self.denoisers) or not self.denoisers:
            raise MaskbenchError(f"corruption.weights has {len(self.weights)} entries for {len(self.denoisers)} "
                                 f"denoisers: give one weight per denoiser")
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise MaskbenchError("corruption.weights must be non-negative with a positive sum")
        for d in self.denoisers:
            ok = isinstance(d, (list, tuple)) and len(d) == 3 and d[0] in ("R", "X", "S")
            ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in d[1:])
            if not ok or not 0 < float(d[2]) < 1 or (d[0] != "S" and float(d[1]) < 1):
                raise MaskbenchError(f"corruption.denoisers item {list(d) if isinstance(d, (list, tuple)) else d}: "
                                     f"write [MODE, MEAN_SPAN, RATE] with MODE R, X or S, MEAN_SPAN >= 1 (R, X) "
                                     f"and 0 < RATE < 1, e.g. [X, 64, 0.5]")


FAMILIES: dict[str, type[CorruptionConfig]] = {"bert": BertMasking, "span": SpanMasking, "mass": MassSpan, "t5": T5Span,
                                         "bart": BartNoise, "electra": ElectraRTD, "ul2": UL2}
