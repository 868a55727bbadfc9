"""UL2's mixture of denoisers (Tay et al. 2022), on the encoder-decoder.

Each example draws one denoiser from `denoisers` (mode, mean span length, rate) with `weights`:
- R and X: T5 span corruption (maskbench/corruption/t5.py) with that mean span length and corruption rate;
  R is regular (short spans, 15%), X extreme (long spans and/or 50%);
- S: sequential, a prefix LM: the source is a prefix of the block, the target its continuation, whose length
  is drawn uniformly from 1 to 2 x rate x block (mean: rate of the block).
The source starts with the denoiser's mode token. The mode tokens are the vocabulary's last three sentinels
(`[X{n-3}]` = [R], `[X{n-2}]` = [X], `[X{n-1}]` = [S]): reserved specials that no corruption selects and no span
uses, so the spans number the others from [X0]. Each denoiser runs batched over the examples that drew it.
"""

from __future__ import annotations

import dataclasses

import torch

from maskbench.corruption.base import IN_SPAN, UNTOUCHED, Diagnostics, Noise, Noised
from maskbench.corruption import streams
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.t5 import T5Corruption, needs_sentinel
from maskbench.corruption.zero_shot import AFTER_SENTINEL, DELETE, SENTINEL, WHOLE, Inputs
from maskbench.data.blocks import Blocks
from maskbench.errors import MaskbenchError
from maskbench.config.schema.corruption import UL2, T5Span

S_MODE, S_PREFIX = streams.UL2
MODES = ("R", "X", "S")


def mode_ids(vocab) -> dict[str, int]:
    """The three mode tokens: the vocabulary's last three sentinels."""
    if vocab.n_sentinels < 4:
        raise MaskbenchError("corruption=ul2 needs at least 4 sentinel tokens (3 become its mode tokens): "
                             "set data.n_sentinels higher")
    last = vocab.sentinel0 + vocab.n_sentinels
    return {m: last - 3 + i for i, m in enumerate(MODES)}


class UL2Mixture(Noise):
    def __init__(self, cfg: UL2, vocab, is_continuation=None):
        super().__init__(cfg, vocab, is_continuation)
        self.modes = mode_ids(vocab)
        span_vocab = dataclasses.replace(vocab, n_sentinels=vocab.n_sentinels - 3)  # the mode tokens stay out
        self.denoisers = []
        for mode, mu, rate in cfg.denoisers:
            spans = None if mode == "S" else T5Corruption(
                T5Span(noise_density=float(rate), mean_noise_span_length=float(mu)), span_vocab)
            self.denoisers.append((str(mode), float(rate), spans))
        w = torch.tensor([float(x) for x in cfg.weights], dtype=torch.float64)
        self.cumulative = (w.cumsum(0) / w.sum()).to(torch.float32)

    @classmethod
    def zero_shot_inputs(cls, cfg: UL2, vocab, method: str) -> Inputs:
        """T5's input after the [R] mode token (its regular denoiser); all-masked: the [S] mode token alone, its
        prefix LM with an empty prefix, so that the decoder continues from nothing."""
        needs_sentinel(cfg, vocab)
        modes = mode_ids(vocab)
        if method == "all-masked":
            return Inputs(False, DELETE, WHOLE, prefix=(modes["S"],))
        return Inputs(False, SENTINEL, AFTER_SENTINEL, prefix=(modes["R"],))

    @classmethod
    def stats_breakdown(cls, cfg: UL2, measure_one, result: dict) -> dict:
        """Each denoiser measured alone (the mixture with its weight only), with how often the mixture drew it
        against its weight."""
        out = []
        total = sum(float(w) for w in cfg.weights)
        for j, d in enumerate(cfg.denoisers):
            one = dataclasses.replace(cfg, weights=[1.0 if k == j else 0.0 for k in range(len(cfg.weights))])
            r = measure_one(one, f"{cfg.name} {list(d)}")
            out.append({"denoiser": list(d), **{k: r[k] for k in ("selected_frac", "span_count_mean", "span_len_mean",
                                                                "source_len_ratio", "target_len_ratio",
                                                                "specials_touched")},
                        "share": (result["denoiser_shares"] or {}).get(str(j), 0.0),
                        "weight_share": round(float(cfg.weights[j]) / total, 4)})
        return {"per_denoiser": out}

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner=None) -> Noised:
        tokens = blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        u = rng.uniform(S_MODE, 1)[:, 0].to(dev)
        choice = torch.searchsorted(self.cumulative.to(dev), u, right=True).clamp_max(len(self.denoisers) - 1)
        parts = []
        for j, (mode, rate, spans) in enumerate(self.denoisers):
            rows = (choice == j).nonzero().squeeze(1)
            if len(rows) == 0:
                continue
            sub = Blocks(tokens[rows], blocks.sent_start[rows], blocks.doc_id[rows])
            sub_rng = KeyedRandom(rng.keys[rows.to(rng.keys.device)])
            noised = spans(sub, sub_rng) if spans is not None else self._prefix_lm(sub, sub_rng, rate)
            parts.append((rows, self.modes[mode], noised))
        return _merge(parts, tokens, choice, self.vocab)

    def _prefix_lm(self, blocks: Blocks, rng: KeyedRandom, rate: float) -> Noised:
        """S: source = the first C - L tokens, target = the last L + [EOS], L uniform in 1..2 x rate x C."""
        tokens, vocab = blocks.tokens, self.vocab
        B, C = tokens.shape
        dev = tokens.device
        longest = max(1, min(C - 1, round(2 * rate * C)))
        tgt_len = rng.integers(S_PREFIX, 1, 1, longest + 1)[:, 0].to(dev)
        src_len = C - tgt_len
        pos = torch.arange(C, device=dev)[None, :]
        in_target = pos >= src_len[:, None]
        src = tokens.masked_fill(in_target, vocab.pad)
        shift = (pos + src_len[:, None]).clamp_max(C - 1)
        tgt = torch.where(pos < tgt_len[:, None], tokens.gather(1, shift), vocab.pad)
        tgt = torch.cat([tgt, torch.full((B, 1), vocab.pad, dtype=tgt.dtype, device=dev)], 1)
        tgt.scatter_(1, tgt_len[:, None], vocab.eos)
        action = torch.where(in_target, IN_SPAN, UNTOUCHED).to(torch.int8)
        diag = Diagnostics(original=tokens, selected=in_target, action=action, span_lengths=tgt_len[:, None],
                           span_valid=torch.ones(B, 1, dtype=torch.bool, device=dev), source_len=src_len,
                           target_len=tgt_len + 1)
        return Noised(source=src, source_len=src_len, diag=diag, target=tgt)


def _merge(parts, tokens: torch.Tensor, choice: torch.Tensor, vocab) -> Noised:
    """One Noised for the batch: each denoiser's rows in place, the mode token first in every source."""
    B, C = tokens.shape
    dev = tokens.device
    S = max(p.source.shape[1] for _, _, p in parts) + 1
    T = max(p.target.shape[1] for _, _, p in parts)
    K = max(p.diag.span_lengths.shape[1] for _, _, p in parts)
    src = torch.full((B, S), vocab.pad, dtype=tokens.dtype, device=dev)
    tgt = torch.full((B, T), vocab.pad, dtype=tokens.dtype, device=dev)
    src_len = torch.zeros(B, dtype=torch.int64, device=dev)
    tgt_len = torch.zeros(B, dtype=torch.int64, device=dev)
    selected = torch.zeros(B, C, dtype=torch.bool, device=dev)
    action = torch.zeros(B, C, dtype=torch.int8, device=dev)
    span_len = torch.zeros(B, K, dtype=torch.int64, device=dev)
    span_valid = torch.zeros(B, K, dtype=torch.bool, device=dev)
    for rows, mode_id, p in parts:
        s, t, k = p.source.shape[1], p.target.shape[1], p.diag.span_lengths.shape[1]
        src[rows, 0] = mode_id
        src[rows, 1:s + 1] = p.source
        tgt[rows, :t] = p.target
        src_len[rows] = p.source_len + 1
        tgt_len[rows] = p.diag.target_len
        selected[rows], action[rows] = p.diag.selected, p.diag.action
        span_len[rows, :k], span_valid[rows, :k] = p.diag.span_lengths, p.diag.span_valid
    diag = Diagnostics(original=tokens, selected=selected, action=action, span_lengths=span_len,
                       span_valid=span_valid, source_len=src_len, target_len=tgt_len, modes=choice)
    return Noised(source=src, source_len=src_len, diag=diag, target=tgt)
