"""BART noising (Lewis et al. 2019), fairseq `DenoisingDataset` semantics without its known bugs:
sentence permutation (real sentence boundaries), token masking / deletion, Poisson span infilling
(one [MASK] per span, 0-length spans insert a [MASK]), document rotation. Order: permute, mask, rotate.
The decoder target is always the original block."""

from __future__ import annotations

import math

import torch

from maskbench.corruption.base import (Noise, DELETED, IN_SPAN, MASKED, RANDOM, UNTOUCHED, Diagnostics, Noised,
                                       is_special, random_text_ids)
from maskbench.corruption import streams
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.spans import assemble, place_with_gaps, span_masks, starts_to_insert
from maskbench.corruption.zero_shot import DELETE, MASKS, ONE_MASK, WHOLE, Inputs
from maskbench.data.blocks import Blocks

S_PERM_PICK, S_PERM_ORDER, S_SELECT, S_SPAN_LEN, S_SPAN_GAP, S_RANDOM_PICK, S_RANDOM_ID, S_ROT, S_ROT_AT = streams.BART


def permute_sentences(tokens, sent_start, prob: float, rng: KeyedRandom):
    """Shuffle a `prob` share of each block's sentences among their own slots. Returns
    (tokens, n_sentences [B], n_moved [B])."""
    B, C = tokens.shape
    dev = tokens.device
    seg = sent_start.long().cumsum(1) - 1  # sentence index of each token
    n_sent = seg[:, -1] + 1
    slot = torch.arange(C, device=dev)[None, :].expand(B, C)
    live = slot < n_sent[:, None]  # per-sentence columns (C is an upper bound on sentences)
    n_pick = torch.ceil(n_sent.float() * prob).long()
    # Choose which sentences take part: the n_pick with the smallest keys.
    pick_key = torch.where(live, rng.uniform(S_PERM_PICK, C).to(dev), 2.0)
    rank = torch.empty_like(slot)
    rank.scatter_(1, pick_key.argsort(1), slot.contiguous())
    picked = live & (rank < n_pick[:, None])
    # Picked slots, in slot order, receive the picked sentences in a random order.
    order_key = torch.where(picked, rng.uniform(S_PERM_ORDER, C).to(dev), 3.0)
    shuffled = order_key.argsort(1)                       # picked sentences, random order first
    slots_in_order = torch.where(picked, slot, C + slot).argsort(1)  # picked slots, ascending, first
    n_picked = picked.sum(1, keepdim=True)
    first = slot < n_picked
    # placed[s] = the slot sentence s moves to; unpicked sentences stay. Column C is a dump slot.
    placed = torch.cat([slot, torch.zeros(B, 1, dtype=slot.dtype, device=dev)], 1)
    placed = placed.scatter(1, torch.where(first, shuffled, C), torch.where(first, slots_in_order, 0))[:, :C]
    moved = (live & (placed != slot)).sum(1)
    # Reorder tokens: sort by (new slot of their sentence, original position).
    key = placed.gather(1, seg) * C + torch.arange(C, device=dev)[None, :]
    perm = key.argsort(1)
    return tokens.gather(1, perm), n_sent, moved


def poisson_span_lengths(n_mask: int, lam: float, B: int, rng: KeyedRandom, max_spans: int):
    """Span lengths ~ Poisson(lam) drawn until they cover n_mask tokens (last span trimmed).
    Returns (lengths [B, K], valid [B, K])."""
    kmax = int(n_mask / max(lam, 1e-3) * 2) + 16
    hi = int(lam + 12 * math.sqrt(lam) + 12)
    ks = torch.arange(hi + 1, dtype=torch.float64)
    cdf = torch.exp(ks * math.log(lam) - lam - torch.lgamma(ks + 1)).cumsum(0)
    while True:
        u = rng.uniform(S_SPAN_LEN, kmax).to(torch.float64).cpu()
        lengths = torch.searchsorted(cdf, u, right=True).clamp(max=hi).to(torch.int64)
        total = lengths.cumsum(1)
        if bool((total[:, -1] >= n_mask).all()) or kmax > 64 * (n_mask + 16):
            break
        kmax *= 2
    # A span is live while the tokens before it are fewer than n_mask.
    before = total - lengths
    valid = before < n_mask
    lengths = torch.where(valid, torch.minimum(lengths, n_mask - before), 0)
    # Spans also need gaps of >= 1 between them: at most C - n_mask + 1 spans fit.
    k = valid.sum(1).clamp(max=max_spans)
    valid = torch.arange(lengths.shape[1])[None, :] < k[:, None]
    lengths = lengths * valid
    K = int(k.max())
    return lengths[:, :K], valid[:, :K]


class BartCorruption(Noise):
    """`bart_mask`, `bart_delete`, `bart_infill`, `bart_permute`, `bart_rotate`, `bart`."""

    @classmethod
    def zero_shot_inputs(cls, cfg, vocab, method: str) -> Inputs:
        """Hidden text as its pretraining hid it: deleted, one [MASK] per Poisson span, or one per masked token;
        a config that never masks (sentence permutation, rotation) gets one [MASK] it has never seen, and says
        so. The decoder reads the original, teacher-forced."""
        if cfg.replace == "delete":
            return Inputs(False, DELETE, WHOLE)
        if cfg.span == "poisson":
            return Inputs(False, ONE_MASK, WHOLE)
        if cfg.span == "token" and cfg.mask_prob > 0:
            return Inputs(False, MASKS, WHOLE)
        return Inputs(False, ONE_MASK, WHOLE, note=f"{cfg.name} never masks text in pretraining: the [MASK] of its "
                                                   f"zero-shot input is new to it")

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner=None) -> Noised:
        cfg, vocab = self.cfg, self.vocab
        tokens = blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        n_sent = moved = None
        if cfg.permute_prob > 0:
            tokens, n_sent, moved = permute_sentences(tokens, blocks.sent_start, cfg.permute_prob, rng)
        selected = torch.zeros_like(tokens, dtype=torch.bool)
        action = torch.full_like(tokens, UNTOUCHED, dtype=torch.int8)
        rand_ids = torch.full_like(tokens, -1)
        span_lengths = span_valid = None
        p, rp = cfg.mask_prob, cfg.random_token_prob
        src, src_len = tokens, torch.full((B,), C, device=dev)
        if cfg.span == "token" and p > 0:
            selected = ~is_special(tokens, vocab) & (rng.uniform(S_SELECT, C).to(dev) < p)
            if cfg.replace == "delete":
                action[selected] = DELETED
                src, src_len = assemble(tokens, ~selected, torch.zeros(B, C + 1, dtype=torch.bool, device=dev),
                                        torch.zeros(B, C + 1, dtype=torch.long, device=dev), vocab.pad)
            else:
                use_rand = selected & (rng.uniform(S_RANDOM_PICK, C).to(dev) < rp)
                ids = random_text_ids(rng.uniform(S_RANDOM_ID, C).to(dev), vocab)
                src = torch.where(use_rand, ids, torch.where(selected, vocab.mask, tokens))
                action[selected] = MASKED
                action[use_rand] = RANDOM
                rand_ids = torch.where(use_rand, ids, -1)
        elif cfg.span == "poisson" and p > 0:
            n_mask = max(1, round(p * C))
            span_lengths, span_valid = poisson_span_lengths(
                n_mask, cfg.poisson_lambda, B, rng, max_spans=C - n_mask + 1)
            span_lengths, span_valid = span_lengths.to(dev), span_valid.to(dev)
            starts = place_with_gaps(span_lengths, span_valid, C, rng, S_SPAN_GAP)
            selected, _ = span_masks(starts, span_lengths, span_valid, C)
            K = span_lengths.shape[1]
            use_rand = span_valid & (rng.uniform(S_RANDOM_PICK, K).to(dev) < rp)
            rid = random_text_ids(rng.uniform(S_RANDOM_ID, K).to(dev), vocab)
            if cfg.replace == "delete":
                insert_ids = torch.zeros_like(starts)
                valid_ins = torch.zeros_like(span_valid)
            else:
                insert_ids = torch.where(use_rand, rid, vocab.mask)
                valid_ins = span_valid
            insert, ins_ids = starts_to_insert(starts, valid_ins, insert_ids, C)
            src, src_len = assemble(tokens, ~selected, insert, ins_ids, vocab.pad)
            action[selected] = IN_SPAN if cfg.replace == "mask" else DELETED
        rotated = None
        if cfg.rotate_prob > 0:
            src, rotated = rotate(src, src_len, cfg.rotate_prob, rng)
        # original = the unpermuted block: it is the decoder target (selected/action index the permuted one)
        diag = Diagnostics(original=blocks.tokens, selected=selected, action=action, random_ids=rand_ids,
                           span_lengths=span_lengths, span_valid=span_valid, sentences=n_sent,
                           sentences_moved=moved, rotated=rotated, source_len=src_len)
        return Noised(source=src, source_len=src_len, diag=diag)


def rotate(src: torch.Tensor, lengths: torch.Tensor, prob: float, rng: KeyedRandom):
    """Rotate a `prob` share of rows so that a uniformly random token becomes the start."""
    B, S = src.shape
    dev = src.device
    do = rng.uniform(S_ROT, 1).to(dev).squeeze(1) < prob
    offset = torch.floor(rng.uniform(S_ROT_AT, 1).to(dev).squeeze(1).double() * lengths.double()).long()
    offset = torch.where(do, offset, 0)
    pos = torch.arange(S, device=dev)[None, :]
    idx = torch.where(pos < lengths[:, None], (pos + offset[:, None]) % lengths.clamp(min=1)[:, None], pos)
    return src.gather(1, idx), offset != 0
