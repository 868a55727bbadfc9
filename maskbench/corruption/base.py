"""What every corruption returns, and the framing shared by all of them.

A corruption turns a batch of original text blocks into model inputs and labels. The encoder-only
framing is `[CLS] content [SEP]` with labels at corrupted positions; the encoder-decoder framing is
`[BOS] source [EOS]` for the encoder and, unless the objective says otherwise (MASS, T5), the original
block plus `[EOS]` as the decoder target, fed shifted right.
Diagnostics (what was selected, how it was replaced, span lengths, moved sentences) ride along so the
statistics and the terminal display read the truth rather than re-deriving it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskbench.batch import IGNORE, Batch
from maskbench.corruption.zero_shot import Inputs
from maskbench.data.tokenizer import Vocab
from maskbench.errors import MaskbenchError
from maskbench.config.schema.corruption import CorruptionConfig


# Diagnostic action codes per original content position.
UNTOUCHED, MASKED, RANDOM, KEPT, DELETED, IN_SPAN = 0, 1, 2, 3, 4, 5


@dataclass
class Diagnostics:
    original: torch.Tensor                       # [B, C] original content (after permutation: see moved)
    selected: torch.Tensor                       # [B, C] bool: chosen for corruption
    action: torch.Tensor                         # [B, C] int8 action codes above
    random_ids: torch.Tensor | None = None       # [B, C] the random replacement ids (-1 elsewhere)
    span_lengths: torch.Tensor | None = None     # [B, K] span lengths (0-length spans included)
    span_valid: torch.Tensor | None = None       # [B, K] bool
    sentences: torch.Tensor | None = None        # [B] sentences in the block
    sentences_moved: torch.Tensor | None = None  # [B] sentences not at their original slot
    rotated: torch.Tensor | None = None          # [B] bool
    source_len: torch.Tensor | None = None       # [B] encoder content length (without framing specials)
    target_len: torch.Tensor | None = None       # [B] decoder target length (labelled positions)
    nsp_is_next: torch.Tensor | None = None      # [B] bool
    modes: torch.Tensor | None = None            # [B] UL2: the denoiser each example drew (index into the mixture)
    # An objective's own measures, one value per block ({name: [B] tensor}): `corrupt --stats` reports each as
    # its mean over the blocks (GPT-BERT: which blocks were causal)
    per_block: dict | None = None


@dataclass
class Noised:
    """A corruption's result before framing."""

    source: torch.Tensor                   # [B, S'] noised content, PAD-padded on the right
    source_len: torch.Tensor               # [B]
    diag: Diagnostics
    mlm_labels: torch.Tensor | None = None  # [B, S'] labels aligned with source (encoder objectives)
    target: torch.Tensor | None = None      # [B, T] decoder target (T5), PAD-padded, eos included
    decoder_input_ids: torch.Tensor | None = None  # MASS: given directly
    decoder_positions: torch.Tensor | None = None
    segments: torch.Tensor | None = None    # [B, S'] segment ids (NSP)
    sep_at: torch.Tensor | None = None      # [B] NSP: insert [SEP] before this source index
    nsp_labels: torch.Tensor | None = None


class Noise:
    """Base of every corruption, and the runtime half of an objective (its schema class, config/schema/corruption.py,
    names it as `implementation`). An instance corrupts: `__call__(blocks, rng, partner) -> Noised`, holding its
    config and vocabulary. `needs_partner`: the batch builder must supply a random other block per example (NSP).

    The class methods are what training asks of an objective; the defaults are the standard masked LM on the
    architecture's model, and an objective overrides only what it does differently (ELECTRA: its generator,
    its losses and FLOPs, its checkpoint's extra parts; GPT-BERT: its loss with causal rows):
    - `build_model(cfg, model_cfg, arch, vocab_size)`: the model a pretraining trains; `prepare_model(cfg,
      model, vocab)`: what it needs of the vocabulary;
    - `loss_terms(cfg, model, batch)`: {name: batch.Term} of one step;
    - `step_flops(cfg, model_cfg, arch, vocab, batch)`: the model FLOPs of one step on this batch;
    - `frame(noised, vocab, arch)`: the Batch the model reads (default: corruption/base.py's framings);
    - `checkpoint_extra`: parameter-name prefixes only the pretraining model has (a plain model loading the
      checkpoint leaves them out).
    And what `maskbench score` asks of it: `zero_shot_inputs(cfg, vocab, method)`, how an encoder-decoder
    pretrained with it is asked about a sentence (an encoder is always asked by pseudo-log-likelihood)."""

    needs_partner = False
    checkpoint_extra: tuple[str, ...] = ()

    def __init__(self, cfg: CorruptionConfig, vocab: Vocab, is_continuation: torch.Tensor | None = None):
        self.cfg, self.vocab = cfg, vocab
        self.is_continuation = is_continuation

    @classmethod
    def build_model(cls, cfg: CorruptionConfig, model_cfg, arch: str, vocab_size: int):
        from maskbench.models.build import build_model

        return build_model(model_cfg, arch, vocab_size)

    @classmethod
    def prepare_model(cls, cfg: CorruptionConfig, model, vocab: Vocab) -> None:
        """Tell the built model what it needs of the vocabulary (ELECTRA: the ids its generator may sample)."""

    @classmethod
    def loss_terms(cls, cfg: CorruptionConfig, model, batch) -> dict:
        from maskbench.models.losses import pretrain_terms

        return pretrain_terms(model, batch)

    @classmethod
    def step_flops(cls, cfg: CorruptionConfig, model_cfg, arch: str, vocab: int, batch) -> float:
        from maskbench.models.flops import standard_batch_flops

        return standard_batch_flops(model_cfg, arch, vocab, batch)

    @classmethod
    def zero_shot_inputs(cls, cfg: CorruptionConfig, vocab: Vocab, method: str) -> Inputs:
        """The Inputs (corruption/zero_shot.py) `maskbench score` gives an encoder-decoder pretrained with this
        objective: what a hidden run of tokens becomes in the encoder's input, what the decoder reads, a prefix,
        a note. `method`: pll, pll-word or all-masked. Default: none, refused in one line (a subclass of a
        built-in corruption inherits its answer)."""
        raise MaskbenchError(f"{cfg.name}: no zero-shot input is defined for corruption family {cfg.family} on an "
                             f"encoder-decoder: give its corruption class a zero_shot_inputs hook "
                             f"(docs/objectives_api.md)")

    @classmethod
    def stats_breakdown(cls, cfg: CorruptionConfig, measure_one, result: dict) -> dict | None:
        """More `corrupt --stats` keys: `measure_one(cfg_variant, label)` measures a variant of the config through
        the same code (UL2: each denoiser alone); `result` is the whole objective's measure. None: nothing more."""
        return None

    def frame(self, noised: "Noised", arch: str) -> Batch:
        """The model's input and labels from a corruption's result (the framing of the module docstring)."""
        from maskbench.arch import arch_of

        if arch_of(arch).encoder_only:
            return frame_encoder(noised, self.vocab)
        if noised.sep_at is not None:  # NSP pairs on an encoder-decoder: [BOS] A [SEP] B [EOS]
            enc = frame_encoder(noised, self.vocab)
            ids = enc.input_ids.clone()
            ids[:, 0], ids[:, -1] = self.vocab.bos, self.vocab.eos
            noised.source = ids[:, 1:-1]
            noised.source_len = torch.full_like(noised.source_len, ids.shape[1] - 2)
            out = frame_encoder_decoder(noised, noised.diag.original, self.vocab)
            out.token_type_ids = enc.token_type_ids
            return out
        return frame_encoder_decoder(noised, noised.diag.original, self.vocab)


def is_special(ids: torch.Tensor, vocab: Vocab) -> torch.Tensor:
    """Special ids (pad, cls, sep, mask, bos, eos, sentinels). [UNK] is a text token, not special."""
    return vocab.unselectable_table(ids.device)[ids]


def random_text_ids(u: torch.Tensor, vocab: Vocab) -> torch.Tensor:
    """Map uniforms to uniformly random NON-special ids (HF samples specials too: a bug). For maskbench's
    own vocabularies this is n_special + floor(u * (V - n_special)), as before."""
    pool = vocab.text_ids(u.device)
    return pool[torch.floor(u * len(pool)).to(torch.int64).clamp_max(len(pool) - 1)]


def frame_encoder(noised: Noised, vocab: Vocab) -> Batch:
    """[CLS] source [SEP] (or [CLS] A [SEP] B [SEP] with segments for NSP); labels aligned."""
    src, B = noised.source, noised.source.shape[0]
    dev = src.device
    cls = torch.full((B, 1), vocab.cls, dtype=src.dtype, device=dev)
    sep = torch.full((B, 1), vocab.sep, dtype=src.dtype, device=dev)
    ign = torch.full((B, 1), IGNORE, dtype=torch.int64, device=dev)
    if noised.sep_at is None:
        ids = torch.cat([cls, src, sep], 1)
        labels = torch.cat([ign, noised.mlm_labels, ign], 1)
        types = None
    else:
        ids, labels, types = _insert_pair_sep(noised, vocab)
    return Batch(input_ids=ids, labels=labels, token_type_ids=types, nsp_labels=noised.nsp_labels,
                     diag=noised.diag)


def _insert_pair_sep(noised: Noised, vocab: Vocab):
    """[CLS] A [SEP] B [SEP]: A = source[:a], B = source[a:], a = sep_at per row."""
    src, lab, a = noised.source, noised.mlm_labels, noised.sep_at
    B, L = src.shape
    dev = src.device
    pos = torch.arange(L + 3, device=dev)[None, :]
    a_ = a[:, None]
    in_a = (pos >= 1) & (pos <= a_)
    in_b = (pos >= a_ + 2) & (pos <= L + 1)
    src_idx = torch.where(in_a, pos - 1, torch.where(in_b, pos - 2, 0)).clamp(0, L - 1)
    ids = torch.where(in_a | in_b, src.gather(1, src_idx), vocab.sep)
    ids[:, 0] = vocab.cls
    labels = torch.where(in_a | in_b, lab.gather(1, src_idx), IGNORE)
    types = (pos > a_ + 1).to(torch.int64).expand(B, -1).contiguous()
    return ids, labels, types


def frame_encoder_decoder(noised: Noised, original: torch.Tensor, vocab: Vocab) -> Batch:
    """[BOS] source [EOS] to the encoder; decoder target = original + [EOS] unless the objective gives one."""
    src, n = noised.source, noised.source_len
    B, S = src.shape
    dev = src.device
    pos = torch.arange(S + 2, device=dev)[None, :]
    body = torch.cat([torch.full((B, 1), vocab.bos, device=dev, dtype=src.dtype), src,
                      torch.full((B, 1), vocab.pad, device=dev, dtype=src.dtype)], 1)
    ids = torch.where(pos == n[:, None] + 1, vocab.eos, body)
    pad_mask = pos > n[:, None] + 1
    ids = ids.masked_fill(pad_mask, vocab.pad)
    if not bool(pad_mask.any()):
        pad_mask = None
    if noised.decoder_input_ids is not None:  # MASS gives its decoder side whole
        return Batch(input_ids=ids, labels=noised.target, pad_mask=pad_mask,
                         decoder_input_ids=noised.decoder_input_ids, decoder_positions=noised.decoder_positions,
                         nsp_labels=noised.nsp_labels, diag=noised.diag)
    if noised.target is not None:
        target = noised.target
    else:
        eos = torch.full((B, 1), vocab.eos, device=dev, dtype=original.dtype)
        target = torch.cat([original, eos], 1)
    bos = torch.full((B, 1), vocab.bos, device=dev, dtype=target.dtype)
    dec_in = torch.cat([bos, target[:, :-1]], 1)
    labels = target.masked_fill(target == vocab.pad, IGNORE)
    return Batch(input_ids=ids, labels=labels, pad_mask=pad_mask, decoder_input_ids=dec_in,
                     nsp_labels=noised.nsp_labels, diag=noised.diag)
