"""An objective's config -> its corruption (the class its schema names as `implementation`), and the one entry
point that corrupts a batch for an architecture. The registry of objectives is schema/corruption.py's FAMILIES
(plus a user's own, schema/objectives.py); nothing here lists them."""

from __future__ import annotations

import torch

from maskbench.batch import Batch
from maskbench.corruption.base import Noise
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.schedule import is_scheduled, rate_at, with_rate
from maskbench.data.blocks import Blocks
from maskbench.data.tokenizer import Vocab
from maskbench.schema import PretrainConfig
from maskbench.schema.corruption import CorruptionConfig


def noise_class(cfg: CorruptionConfig) -> type[Noise]:
    """The corruption class an objective's schema names (`implementation`: "module:Class", or the class)."""
    from maskbench.schema.objectives import load_attribute

    impl = type(cfg).implementation
    cls = load_attribute(impl, f"corruption={cfg.name}") if isinstance(impl, str) else impl
    if not (isinstance(cls, type) and issubclass(cls, Noise)):
        from maskbench.errors import MaskbenchError

        raise MaskbenchError(f"corruption={cfg.name}: {type(cfg).implementation} is not a maskbench.corruption.base."
                             f"Noise subclass: derive its corruption from Noise")
    return cls


class Corruption:
    """A configured corruption for one architecture: `corrupt(blocks, keys, partner, step)` -> Batch.
    With a masking schedule (corruption/schedule.py) the rate follows `step` over `total_steps`; step=None
    corrupts at the schedule's end rate."""

    def __init__(self, cfg: CorruptionConfig, arch: str, vocab: Vocab, is_continuation: torch.Tensor | None = None,
                 total_steps: int = 1):
        self.name, self.arch, self.vocab = cfg.name, arch, vocab
        self.cfg, self.total_steps, self.is_continuation = cfg, total_steps, is_continuation
        self.scheduled = is_scheduled(cfg)
        self.noise = self._noise(None)
        self.needs_partner = self.noise.needs_partner
        self._at: tuple = (None, self.noise)  # (rate, noise) of the last scheduled call

    def _noise(self, step: int | None):
        cfg = with_rate(self.cfg, rate_at(self.cfg, step, self.total_steps)) if self.scheduled else self.cfg
        return noise_class(cfg)(cfg, self.vocab, self.is_continuation)

    def rate(self, step: int | None) -> float:
        """The masking rate in force at `step` (logged per step)."""
        return rate_at(self.cfg, step, self.total_steps)

    def __call__(self, blocks: Blocks, keys: torch.Tensor, partner: Blocks | None = None,
                 step: int | None = None) -> Batch:
        noise = self.noise
        if self.scheduled and step is not None:
            rate, noise = self._at
            if rate != self.rate(step):  # a local copy: the prefetch thread and validation may both call
                noise = self._noise(step)
                self._at = (self.rate(step), noise)
        return noise.frame(noise(blocks, KeyedRandom(keys), partner), self.arch)


def build_corruption(cfg: CorruptionConfig, arch: str, vocab: Vocab, is_continuation: torch.Tensor | None = None,
                     total_steps: int = 1) -> Corruption:
    return Corruption(cfg, arch, vocab, is_continuation, total_steps)


def corruption_for_tokenizer(cfg: PretrainConfig, tok) -> tuple[Vocab, Corruption]:
    """The one corruption set-up, shared by pretraining and the `corrupt` inspector: T5's sentinels appended
    to a vocabulary from elsewhere (t5 and ul2), the vocabulary's roles, the whole-word table where asked."""
    from maskbench.data.tokenizer import add_sentinels, continuation_table

    if cfg.corruption.needs_sentinels and tok.token_to_id("[X0]") is None:
        add_sentinels(tok, cfg.data.n_sentinels)
    vocab = Vocab.from_tokenizer(tok)
    cont = torch.tensor(continuation_table(tok)) if cfg.corruption.reads_word_starts else None
    return vocab, build_corruption(cfg.corruption, cfg.arch.name, vocab, cont)


def build_pretraining_model(model_cfg, arch: str, vocab_size: int, corruption_cfg, vocab: Vocab | None = None):
    """The model a pretraining of `corruption_cfg` trains (its objective's build_model: the architecture's model,
    or e.g. ELECTRA's discriminator with its generator); with `vocab`, told the vocabulary's roles."""
    hooks = noise_class(corruption_cfg)
    model = hooks.build_model(corruption_cfg, model_cfg, arch, vocab_size)
    if vocab is not None:
        hooks.prepare_model(corruption_cfg, model, vocab)
    return model


def pretraining_only_prefixes() -> tuple[str, ...]:
    """Parameter-name prefixes that only a built-in objective's pretraining model has (ELECTRA's generator):
    a plain model loading such a checkpoint leaves them out."""
    from maskbench.schema.corruption import FAMILIES

    out: list[str] = []
    for cls in FAMILIES.values():
        out += [p for p in noise_class(cls()).checkpoint_extra if p not in out]
    return tuple(out)
