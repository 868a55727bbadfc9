"""Schemas of the `corruption` group: one class per objective family, and each class *is* that objective's
description: its config fields (hashed into run names), and as class attributes (never hashed) what the rest
of maskbench asks of an objective instead of comparing family names: the rate a schedule moves, the span
length `corrupt --stats` compares, the architectures it fits, whether a transformers collator can serve it,
the vocabulary it needs, what predicts its tokens, and `implementation`, the "module:Class" of its corruption
(maskbench/corruption/, imported by the registry there; this layer stays torch-free). `FAMILIES` is the one
registry of built-in objectives; a user's own is found by `objective` (config/schema/objectives.py,
docs/objectives_api.md).
Shares of masked positions are probabilities; the [MASK]/random/kept split must leave a non-negative kept share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, List, Optional

from maskbench.arch import ENCODER, ENCODER_DECODER
from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option


@dataclass(frozen=True)
class CorruptionConfig:
    """The base of every objective (built-in or a user's own): the fields all share, and the questions the
    rest of maskbench asks, answered by class attributes and methods a family overrides."""
    # --- what an objective answers (class attributes: not config fields, not hashed) ---
    implementation: ClassVar[Any] = ""            # its corruption (a corruption.base.Noise): "module:Class" or the class
    rate_field: ClassVar[Optional[str]] = None    # the rate a masking schedule moves (corruption/schedule.py)
    span_field: ClassVar[Optional[str]] = None    # its mean span length (the configured column of --stats)
    writes_mask: ClassVar[bool] = True            # its inputs hold [MASK] (a collator's tokenizer needs one)
    needs_sentinels: ClassVar[bool] = False       # T5's sentinels in the vocabulary ([X0], [X1], ...)
    collator_why_not: ClassVar[Optional[str]] = None  # why no transformers collator can serve it (None: one can)
    selected_leave: ClassVar[bool] = False        # selected tokens leave the source (spans, deletion): `corrupt`
    #                                               strikes them through on the original instead of underlining
    # An objective with a model of its own (a checkpoint holding more than the backbone) names, as "module:name"
    # strings resolved where they are used (the layers above), what the commands do with it:
    model_view: ClassVar[Optional[str]] = None    # `corrupt`: a module with pair(), rows(), measure() (its samples)
    fill_model: ClassVar[Optional[str]] = None    # `fill`, `score`: the wrapper of its pretraining model that
    #                                               predicts tokens (fills blanks, scores sentences zero-shot)
    fill_model_name: ClassVar[Optional[str]] = None  # that wrapper in words (`score` says what scored)
    exporter: ClassVar[Optional[str]] = None      # `export`: builds its transformers folders (src, cfg, vocab, tf)
    trains_lm_head: ClassVar[bool] = True         # whether the backbone's own MLM head is trained (exported)

    name: str = "custom"
    family: str = "bert"
    archs: List[str] = option(factory=lambda: [ENCODER.name, ENCODER_DECODER.name])
    # constant: the family's rate throughout; linear / cosine: from it to mask_prob_end over the run's steps
    mask_schedule: str = option("constant", choices=("constant", "linear", "cosine"))
    mask_prob_end: Optional[float] = option(None, prob=True, hint="the rate at the end of the run")
    # a user's own objective: "path/to/file.py:Class", "package.module:Class" or an entry point's name in the
    # group maskbench.objectives (None for the built-in ones; left out of the run-name hash then)
    objective: Optional[str] = None

    def check_data(self, data) -> None:
        """Checks against the data group (schema.data.DataConfig), e.g. enough sentinels per block."""

    @property
    def reads_word_starts(self) -> bool:
        """Whether it needs the tokenizer's word-continuation table (whole-word masking)."""
        return False

    def configured_stats(self) -> dict:
        """What this config promises for the measures of `maskbench corrupt --stats` (measure -> value), for the
        table's 'configured' column; a measure it says nothing about is left out."""
        rate, span = self.rate_field, self.span_field
        return {"selected_frac": getattr(self, rate) if rate else None, "specials_touched": 0,
                **({"span_len_mean": getattr(self, span)} if span else {})}

    def check(self) -> None:
        self._check_rates_mask_something()
        if self.mask_schedule == "constant":
            return
        field = self.rate_field
        if field is None:
            raise MaskbenchError(f"corruption.mask_schedule={self.mask_schedule}: {self.name} has no masking rate to "
                                 f"schedule")
        if self.mask_prob_end is None:
            raise MaskbenchError(f"corruption.mask_schedule={self.mask_schedule} needs corruption.mask_prob_end, the "
                                 f"rate at the end of the run (it starts at corruption.{field})")


    def _check_rates_mask_something(self) -> None:
        """A rate of 0 gives blocks with nothing to predict: a loss of 0.0 that looks like a perfect model. BART
        is refused only when nothing at all changes the text (it may permute or rotate instead of masking)."""
        field = self.rate_field
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
    implementation: ClassVar[str] = "maskbench.corruption.bert:BertMLM"
    rate_field: ClassVar[Optional[str]] = "mask_prob"
    mask_prob: float = option(0.15, prob=True)
    exact_count: bool = False
    whole_word: bool = False
    nsp: bool = False

    @property
    def reads_word_starts(self) -> bool:
        return self.whole_word


@dataclass(frozen=True)
class SpanMasking(_MaskSplit):
    implementation: ClassVar[str] = "maskbench.corruption.bert:SpanMLM"
    rate_field: ClassVar[Optional[str]] = "mask_prob"
    span_field: ClassVar[Optional[str]] = "mean_span_length"
    mask_prob: float = option(0.15, prob=True)
    mean_span_length: float = option(3.0, low=1.0)


@dataclass(frozen=True)
class MassSpan(_MaskSplit):
    implementation: ClassVar[str] = "maskbench.corruption.mass:MassCorruption"
    rate_field: ClassVar[Optional[str]] = "span_frac"
    collator_why_not: ClassVar[Optional[str]] = ("MASS feeds its decoder the span at its original positions, which "
                                                 "transformers' decoders cannot take")
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
    implementation: ClassVar[str] = "maskbench.corruption.t5:T5Corruption"
    selected_leave: ClassVar[bool] = True
    rate_field: ClassVar[Optional[str]] = "noise_density"
    span_field: ClassVar[Optional[str]] = "mean_noise_span_length"
    writes_mask: ClassVar[bool] = False
    needs_sentinels: ClassVar[bool] = True
    archs: List[str] = option(factory=lambda: [ENCODER_DECODER.name])
    noise_density: float = option(0.15, prob=True)
    mean_noise_span_length: float = option(3.0, low=1.0)

    def check_data(self, data) -> None:
        n_spans = round(round(self.noise_density * data.content_len) / self.mean_noise_span_length)
        if n_spans > data.n_sentinels:
            raise MaskbenchError(f"{self.name} needs {n_spans} sentinels per block but data.n_sentinels="
                                 f"{data.n_sentinels}: raise it")


@dataclass(frozen=True)
class BartNoise(CorruptionConfig):
    implementation: ClassVar[str] = "maskbench.corruption.bart:BartCorruption"
    selected_leave: ClassVar[bool] = True
    rate_field: ClassVar[Optional[str]] = "mask_prob"
    span_field: ClassVar[Optional[str]] = "poisson_lambda"
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
    implementation: ClassVar[str] = "maskbench.corruption.electra:ElectraMasking"
    model_view: ClassVar[Optional[str]] = "maskbench.inspect.electra_view"
    fill_model: ClassVar[Optional[str]] = "maskbench.models.electra:GeneratorMLM"  # fills and scores: its generator
    fill_model_name: ClassVar[Optional[str]] = "ELECTRA's generator (the discriminator predicts no tokens)"
    exporter: ClassVar[Optional[str]] = "maskbench.export.electra:build_electra_export"
    trains_lm_head: ClassVar[bool] = False  # the discriminator's MLM head is never trained
    collator_why_not: ClassVar[Optional[str]] = ("ELECTRA needs its generator in the model (maskbench pretrain "
                                                 "corruption=electra)")
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
    implementation: ClassVar[str] = "maskbench.corruption.ul2:UL2Mixture"
    writes_mask: ClassVar[bool] = False
    needs_sentinels: ClassVar[bool] = True
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

    def check_data(self, data) -> None:
        """Three sentinels become its mode tokens; the spans number the rest."""
        n_spans = max([round(round(float(r) * data.content_len) / float(mu)) for m, mu, r in self.denoisers
                       if m != "S"] or [0])
        if n_spans > data.n_sentinels - 3:
            raise MaskbenchError(f"{self.name} needs {n_spans} span sentinels per block plus 3 mode tokens but "
                                 f"data.n_sentinels={data.n_sentinels}: raise it")


FAMILIES: dict[str, type[CorruptionConfig]] = {"bert": BertMasking, "span": SpanMasking, "mass": MassSpan, "t5": T5Span,
                                         "bart": BartNoise, "electra": ElectraRTD, "ul2": UL2}
