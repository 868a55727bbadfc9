"""An objective's config -> its corruption (the class its schema names as `implementation`), and the one entry
point that corrupts a batch for an architecture. The registry of objectives is config/schema/corruption.py's FAMILIES
(plus a user's own, config/schema/objectives.py); nothing here lists them."""

from __future__ import annotations

import torch

from maskbench.batch import Batch
from maskbench.corruption.base import Noise
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.schedule import is_scheduled, rate_at, with_rate
from maskbench.data.blocks import Blocks
from maskbench.data.tokenizer import Vocab
from maskbench.config.schema import PretrainConfig
from maskbench.config.schema.corruption import CorruptionConfig
from maskbench.config.schema.objectives import objective_code, users_objective


def noise_class(cfg: CorruptionConfig) -> type[Noise]:
    """The corruption class an objective's schema names (`implementation`: "module:Class", or the class)."""
    from maskbench.config.schema.objectives import load_attribute

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
        self.users = users_objective(cfg)
        self.noise = self._noise(None)
        self.needs_partner = self.noise.needs_partner
        self._at: tuple = (None, self.noise)  # (rate, noise) of the last scheduled call

    def _noise(self, step: int | None):
        cfg = with_rate(self.cfg, rate_at(self.cfg, step, self.total_steps)) if self.scheduled else self.cfg
        cls = noise_class(cfg)
        with objective_code(cfg, f"corruption {cls.__name__}.__init__"):
            return cls(cfg, self.vocab, self.is_continuation)

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
        if not self.users:
            return noise.frame(noise(blocks, KeyedRandom(keys), partner), self.arch)
        # A user's own objective: its exceptions name it, and what it returns is checked against the contract
        # (docs/objectives_api.md) before maskbench indexes with it: a wrong shape or id was an IndexError deep in
        # framing or the embedding (the internal-error line), a label tensor of another shape trained silently.
        with objective_code(self.cfg, f"corruption {type(noise).__name__}.__call__"):
            noised = noise(blocks, KeyedRandom(keys), partner)
        check_noised(noised, blocks, self.vocab, self.cfg, type(noise).__name__, self.arch)
        with objective_code(self.cfg, f"corruption {type(noise).__name__}.frame"):
            return noise.frame(noised, self.arch)


def check_noised(noised, blocks: Blocks, vocab: Vocab, cfg: CorruptionConfig, name: str, arch: str) -> None:
    """What a user's corruption returned, against the Noised contract (for `arch`): one line naming what is wrong.
    What passes is framed by corruption/base.py without an error (tests/test_properties.py generates Noised)."""
    from maskbench.arch import arch_of
    from maskbench.batch import IGNORE
    from maskbench.corruption.base import Noised
    from maskbench.errors import MaskbenchError

    def refuse(what: str):
        raise MaskbenchError(f"corruption.objective={cfg.objective!r}: {name}.__call__ returned {what}: return a "
                             f"Noised with source [B, S] token ids below the vocabulary size ({vocab.size}), "
                             f"source_len [B] at most S and mlm_labels shaped like source (docs/objectives_api.md)")

    if not isinstance(noised, Noised):
        refuse(f"a {type(noised).__name__}, not a maskbench.corruption.base.Noised")
    B = blocks.tokens.shape[0]

    def ids(t, key: str, labels: bool = False) -> None:
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[0] != B:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            refuse(f"{key} of shape {shape} for {B} blocks (it must be [{B}, length])")
        if t.dtype not in (torch.int64, torch.int32):
            refuse(f"{key} of dtype {t.dtype} (token ids are int64)")
        bad = (t < 0) | (t >= vocab.size)
        if labels:
            bad &= t != IGNORE
        if bool(bad.any()):
            refuse(f"{key} holding id {int(t[bad][0])}, outside the vocabulary (0 to {vocab.size - 1}"
                   f"{', or IGNORE' if labels else ''})")

    ids(noised.source, "source")
    S = noised.source.shape[1]
    n = noised.source_len
    if not isinstance(n, torch.Tensor) or tuple(n.shape) != (B,):
        refuse(f"source_len of shape {tuple(n.shape) if isinstance(n, torch.Tensor) else type(n).__name__} "
               f"(it must be [{B}])")
    if bool(((n < 0) | (n > S)).any()):
        refuse(f"source_len {int(n.max() if bool((n > S).any()) else n.min())} for a source {S} long")
    if noised.mlm_labels is not None:
        ids(noised.mlm_labels, "mlm_labels", labels=True)
        if noised.mlm_labels.shape != noised.source.shape:
            refuse(f"mlm_labels of shape {tuple(noised.mlm_labels.shape)} beside a source of shape "
                   f"{tuple(noised.source.shape)}")
    if noised.target is not None:  # the decoder reads it shifted (PAD-padded): IGNORE only where it is given
        ids(noised.target, "target", labels=noised.decoder_input_ids is not None)  # its own input (MASS)
        if noised.target.shape[1] == 0:
            refuse("an empty target (the decoder needs at least one token to predict)")
    if arch_of(arch).encoder_only and noised.mlm_labels is None:
        refuse("no mlm_labels, which an encoder is trained on")
    if noised.decoder_input_ids is not None:
        ids(noised.decoder_input_ids, "decoder_input_ids")
        if noised.target is None or noised.target.shape != noised.decoder_input_ids.shape:
            refuse("decoder_input_ids without a target of the same shape")
    if noised.decoder_positions is not None:
        dp = noised.decoder_positions
        if noised.decoder_input_ids is None or not isinstance(dp, torch.Tensor) or \
                dp.shape != noised.decoder_input_ids.shape or dp.dtype != torch.int64 or bool((dp < 0).any()):
            refuse("decoder_positions that are not non-negative int64 positions shaped like decoder_input_ids")
    for key, high in (("sep_at", S), ("nsp_labels", 1)):
        v = getattr(noised, key)
        if v is not None and (not isinstance(v, torch.Tensor) or tuple(v.shape) != (B,) or v.dtype != torch.int64
                              or bool(((v < 0) | (v > high)).any())):
            refuse(f"{key} that is not an int64 [{B}] of values 0 to {high}")
    if noised.sep_at is not None and (noised.mlm_labels is None or S == 0):
        refuse("sep_at without mlm_labels or with an empty source")
    if noised.segments is not None:
        seg = noised.segments
        if not isinstance(seg, torch.Tensor) or seg.shape != noised.source.shape:
            refuse("segments not shaped like source")


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
    with objective_code(corruption_cfg, f"corruption {hooks.__name__}.build_model"):
        model = hooks.build_model(corruption_cfg, model_cfg, arch, vocab_size)
    if vocab is not None:
        with objective_code(corruption_cfg, f"corruption {hooks.__name__}.prepare_model"):
            hooks.prepare_model(corruption_cfg, model, vocab)
    return model


def pretraining_only_prefixes() -> tuple[str, ...]:
    """Parameter-name prefixes that only a built-in objective's pretraining model has (ELECTRA's generator):
    a plain model loading such a checkpoint leaves them out."""
    from maskbench.config.schema.corruption import FAMILIES

    out: list[str] = []
    for cls in FAMILIES.values():
        out += [p for p in noise_class(cls()).checkpoint_extra if p not in out]
    return tuple(out)
