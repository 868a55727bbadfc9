"""MASS (Song et al. 2019): one contiguous fragment of `span_frac` of the block. The encoder sees the
fragment replaced 80/10/10; the decoder gets the fragment shifted right at its ORIGINAL positions and
predicts the fragment only (positions outside it are not fed: same result as the paper's masked
decoder input, cheaper). Start: 20% at the beginning, 20% at the end, 60% uniform
(microsoft/MASS `restricted_mask_sent`)."""

from __future__ import annotations

import torch

from maskbench.corruption.base import Noise, Diagnostics, Noised
from maskbench.corruption.bert import replace_80_10_10
from maskbench.corruption import streams
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.zero_shot import FRAGMENT, MASKS, Inputs
from maskbench.data.blocks import Blocks

S_WHERE, S_START, S_ACTION, S_RANDOM_ID = streams.MASS


def fragment_start(rng: KeyedRandom, n_blocks: int, block_len: int, k: int, at_begin: float, at_end: float,
                   dev) -> torch.Tensor:
    """(n_blocks,) first position of each block's k-token fragment: 0 with probability `at_begin`, the last
    possible start with `at_end`, else uniform over the C - k + 1 starts (microsoft/MASS `restricted_mask_sent`)."""
    where = rng.uniform(S_WHERE, 1).to(dev).squeeze(1)
    inside = torch.floor(rng.uniform(S_START, 1).to(dev).squeeze(1).double() * (block_len - k + 1)).long()
    return torch.where(where < at_begin, 0, torch.where(where < at_begin + at_end, block_len - k, inside))


class MassCorruption(Noise):
    @classmethod
    def zero_shot_inputs(cls, cfg, vocab, method: str) -> Inputs:
        """One [MASK] per hidden token; the decoder reads the token before the hidden run, at its position (as it
        read the token before its fragment)."""
        return Inputs(False, MASKS, FRAGMENT)

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner=None) -> Noised:
        cfg, vocab, tokens = self.cfg, self.vocab, blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        k = min(C, max(1, round(cfg.span_frac * C)))
        start = fragment_start(rng, B, C, k, cfg.start_at_begin_prob, cfg.start_at_end_prob, dev)
        pos = torch.arange(C, device=dev)[None, :]
        selected = (pos >= start[:, None]) & (pos < start[:, None] + k)
        src, action, rand_ids = replace_80_10_10(
            tokens, selected, rng.uniform(S_ACTION, C).to(dev), rng.uniform(S_RANDOM_ID, C).to(dev),
            cfg.mask_token_prob, cfg.random_token_prob, vocab)
        frag_pos = start[:, None] + torch.arange(k, device=dev)[None, :]
        target = tokens.gather(1, frag_pos)
        prev = tokens.gather(1, (frag_pos - 1).clamp(min=0))
        dec_in = torch.where(frag_pos == 0, vocab.bos, prev)  # token before the fragment, or [BOS]
        diag = Diagnostics(original=tokens, selected=selected, action=action, random_ids=rand_ids,
                           span_lengths=torch.full((B, 1), k, device=dev),
                           span_valid=torch.ones(B, 1, dtype=torch.bool, device=dev),
                           source_len=torch.full((B,), C, device=dev), target_len=torch.full((B,), k, device=dev))
        return Noised(source=src, source_len=diag.source_len, diag=diag, target=target,
                      decoder_input_ids=dec_in, decoder_positions=frag_pos)
