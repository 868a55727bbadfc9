"""BERT-style masking on encoders: `bert_mlm` (token selection, optional whole-word / exact count),
`bert_mlm_nsp` (next-sentence pairs), `span_mlm` (SpanBERT-like contiguous spans)."""

from __future__ import annotations

import torch

from maskbench.batch import IGNORE
from maskbench.corruption.base import (Noise, KEPT, MASKED, RANDOM, UNTOUCHED, Diagnostics, Noised,
                                       is_special, random_text_ids)
from maskbench.corruption import streams
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.spans import place_with_gaps, random_parts, span_masks
from maskbench.corruption.zero_shot import MASKS, WHOLE, Inputs
from maskbench.data.blocks import Blocks
from maskbench.data.tokenizer import Vocab
from maskbench.config.schema.corruption import BertMasking

# Streams: each independent random decision draws from its own stream.
S_SELECT, S_ACTION, S_RANDOM_ID, S_NSP, S_NSP_SPLIT, S_SPAN_LEN, S_SPAN_GAP = streams.BERT


def replace_80_10_10(tokens, selected, decide_u, random_u, mask_p, random_p, vocab: Vocab):
    """Of the selected positions: mask_p -> [MASK], random_p -> random non-special id, rest kept.

    decide_u / random_u are [B, C] uniforms (per token, or per span gathered to tokens)."""
    to_mask = selected & (decide_u < mask_p)
    to_rand = selected & (decide_u >= mask_p) & (decide_u < mask_p + random_p)
    rand_ids = random_text_ids(random_u, vocab)
    out = torch.where(to_mask, vocab.mask, torch.where(to_rand, rand_ids, tokens))
    action = torch.full_like(tokens, UNTOUCHED, dtype=torch.int8)
    action[selected] = KEPT
    action[to_mask] = MASKED
    action[to_rand] = RANDOM
    return out, action, torch.where(to_rand, rand_ids, -1)


class BertMLM(Noise):
    """`bert_mlm` / `bert_mlm_nsp`."""

    def __init__(self, cfg: BertMasking, vocab: Vocab, is_continuation: torch.Tensor | None = None):
        super().__init__(cfg, vocab, is_continuation)
        self.needs_partner = cfg.nsp

    @classmethod
    def zero_shot_inputs(cls, cfg, vocab, method: str) -> Inputs:
        """On an encoder-decoder: one [MASK] per hidden token (as in pretraining); the decoder reads the original."""
        return Inputs(False, MASKS, WHOLE)

    def select(self, tokens: torch.Tensor, rng: KeyedRandom) -> torch.Tensor:
        B, C = tokens.shape
        p = float(self.cfg.mask_prob)
        selectable = ~is_special(tokens, self.vocab)
        u = rng.uniform(S_SELECT, C).to(tokens.device)
        if self.cfg.whole_word:
            cont = self.is_continuation.to(tokens.device)[tokens]
            cont[:, 0] = False  # a block's first piece opens a (partial) word
            word_id = (~cont).long().cumsum(1) - 1
            u = u.gather(1, word_id)  # one draw per word, shared by its pieces
        if self.cfg.exact_count:
            n = torch.round(p * selectable.sum(1).float()).long()
            keys = torch.where(selectable, u, 2.0)
            rank = torch.empty_like(tokens)
            rank.scatter_(1, keys.argsort(1), torch.arange(C, device=tokens.device).expand(B, C).contiguous())
            return rank < n[:, None]
        return selectable & (u < p)

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner: Blocks | None = None) -> Noised:
        tokens = blocks.tokens
        sep_at = nsp_labels = is_next = None
        if self.cfg.nsp:
            tokens, sep_at, nsp_labels = make_nsp_pairs(blocks, partner, rng)
            is_next = nsp_labels == 0
        B, C = tokens.shape
        dev = tokens.device
        selected = self.select(tokens, rng)
        out, action, rand_ids = replace_80_10_10(
            tokens, selected, rng.uniform(S_ACTION, C).to(dev), rng.uniform(S_RANDOM_ID, C).to(dev),
            float(self.cfg.mask_token_prob), float(self.cfg.random_token_prob), self.vocab)
        diag = Diagnostics(original=tokens, selected=selected, action=action, random_ids=rand_ids,
                           source_len=torch.full((B,), C, device=dev), nsp_is_next=is_next)
        return Noised(source=out, source_len=diag.source_len, diag=diag,
                      mlm_labels=torch.where(selected, tokens, IGNORE), sep_at=sep_at, nsp_labels=nsp_labels)


def make_nsp_pairs(blocks: Blocks, partner: Blocks, rng: KeyedRandom):
    """Split each block at a sentence boundary into A | B (C-1 tokens in all; room for the middle [SEP]).

    50%: B is the block's own continuation (IsNext, label 0). 50%: B is taken from a random other
    block at the same offsets (NotNext, label 1) when that block is another document. A split that
    happens to cross a document boundary is labelled NotNext too: labels always tell the truth.
    """
    own, doc = blocks.tokens[:, :-1], blocks.doc_id[:, :-1]
    B, L = own.shape
    dev = own.device
    pos = torch.arange(L, device=dev)[None, :]
    # Aim at a random point in the middle half; take the nearest sentence start inside the same document.
    target = (L // 4 + rng.uniform(S_NSP_SPLIT, 1).to(dev) * (L // 2)).long()
    same_doc = torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=dev), doc[:, 1:] == doc[:, :-1]], 1)
    cand = blocks.sent_start[:, :-1] & same_doc & (pos >= 2) & (pos <= L - 2)
    dist = torch.where(cand, (pos - target).abs(), L * 4)
    best = dist.argmin(1, keepdim=True)
    a = torch.where(cand.gather(1, best), best, target).squeeze(1)
    before = a[:, None] - 1
    want_random = rng.uniform(S_NSP, 1).to(dev).squeeze(1) < 0.5
    p_doc_at_a = partner.doc_id[:, :-1].gather(1, a[:, None]).squeeze(1)
    own_doc_before = doc.gather(1, before).squeeze(1)
    use_partner = want_random & (p_doc_at_a != own_doc_before)
    pair = torch.where(use_partner[:, None] & (pos >= a[:, None]), partner.tokens[:, :-1], own)
    b_doc = torch.where(use_partner, p_doc_at_a, doc.gather(1, a[:, None]).squeeze(1))
    nsp_labels = (b_doc != own_doc_before).long()
    return pair, a, nsp_labels


class SpanMLM(Noise):
    """`span_mlm`: spans of random length (mean `mean_span_length`) covering `mask_prob` of the tokens,
    placed with gaps of at least one token; each span replaced 80/10/10 as a whole."""

    @classmethod
    def zero_shot_inputs(cls, cfg, vocab, method: str) -> Inputs:
        """On an encoder-decoder: one [MASK] per hidden token (as in pretraining); the decoder reads the original."""
        return Inputs(False, MASKS, WHOLE)

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner=None) -> Noised:
        tokens = blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        n_noise = max(1, round(float(self.cfg.mask_prob) * C))
        k = max(1, min(round(n_noise / float(self.cfg.mean_span_length)), C - n_noise + 1))
        nn = torch.full((B,), n_noise, device=dev)
        lengths = random_parts(nn, torch.full((B,), k, device=dev), k, rng, S_SPAN_LEN, n_noise)
        valid = torch.ones(B, k, dtype=torch.bool, device=dev)
        starts = place_with_gaps(lengths, valid, C, rng, S_SPAN_GAP)
        inside, span_id = span_masks(starts, lengths, valid, C)
        sid = span_id.clamp(min=0)
        decide = rng.uniform(S_ACTION, k).to(dev).gather(1, sid)
        out, action, rand_ids = replace_80_10_10(
            tokens, inside, decide, rng.uniform(S_RANDOM_ID, C).to(dev),
            float(self.cfg.mask_token_prob), float(self.cfg.random_token_prob), self.vocab)
        diag = Diagnostics(original=tokens, selected=inside, action=action, random_ids=rand_ids,
                           span_lengths=lengths, span_valid=valid, source_len=torch.full((B,), C, device=dev))
        return Noised(source=out, source_len=diag.source_len, diag=diag,
                      mlm_labels=torch.where(inside, tokens, IGNORE))
