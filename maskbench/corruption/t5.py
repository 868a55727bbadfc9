"""T5 span corruption (Raffel et al. 2019), following `random_spans_noise_mask`: round(density * n)
noise tokens in round(noise / mean_span_length) spans; noise and non-noise lengths are random
compositions; the layout alternates non-noise, noise. Each span becomes a distinct sentinel in the
encoder input; target = sentinel_0 span_0 sentinel_1 span_1 ... [EOS]. Sentinels are reserved
special ids of the tokenizer (the HF Flax collator's sentinel-id mismatch does not apply)."""

from __future__ import annotations

import torch

from maskbench.corruption.base import Noise, IN_SPAN, UNTOUCHED, Diagnostics, Noised
from maskbench.corruption import streams
from maskbench.corruption.keyed_random import KeyedRandom
from maskbench.corruption.spans import assemble, random_parts, span_masks, starts_to_insert
from maskbench.corruption.zero_shot import AFTER_SENTINEL, SENTINEL, Inputs
from maskbench.data.blocks import Blocks
from maskbench.errors import MaskbenchError

S_NOISE_LEN, S_KEEP_LEN = streams.T5


class T5Corruption(Noise):
    @classmethod
    def zero_shot_inputs(cls, cfg, vocab, method: str) -> Inputs:
        """The sentinel [X0] where the hidden run was; the decoder reads [BOS] [X0], as its targets start."""
        needs_sentinel(cfg, vocab)
        return Inputs(False, SENTINEL, AFTER_SENTINEL)

    def __call__(self, blocks: Blocks, rng: KeyedRandom, partner=None) -> Noised:
        vocab = self.vocab
        tokens = blocks.tokens
        B, C = tokens.shape
        dev = tokens.device
        n_noise = min(max(round(float(self.cfg.noise_density) * C), 1), C - 1)
        k = max(1, min(round(n_noise / float(self.cfg.mean_noise_span_length)), C - n_noise, vocab.n_sentinels))
        full = lambda v: torch.full((B,), v, device=dev)  # noqa: E731
        noise_len = random_parts(full(n_noise), full(k), k, rng, S_NOISE_LEN, n_noise)
        keep_len = random_parts(full(C - n_noise), full(k), k, rng, S_KEEP_LEN, C - n_noise)
        starts = keep_len.cumsum(1) + noise_len.cumsum(1) - noise_len
        valid = torch.ones(B, k, dtype=torch.bool, device=dev)
        noise, _ = span_masks(starts, noise_len, valid, C)
        sentinels = vocab.sentinel0 + torch.arange(k, device=dev)[None, :].expand(B, k)
        insert, ins_ids = starts_to_insert(starts, valid, sentinels, C)
        src, src_len = assemble(tokens, ~noise, insert, ins_ids, vocab.pad)
        tgt, tgt_len = assemble(tokens, noise, insert, ins_ids, vocab.pad)
        # Append [EOS] after each target row.
        tgt = torch.cat([tgt, torch.full((B, 1), vocab.pad, dtype=tgt.dtype, device=dev)], 1)
        tgt.scatter_(1, tgt_len[:, None], vocab.eos)
        action = torch.where(noise, IN_SPAN, UNTOUCHED).to(torch.int8)
        diag = Diagnostics(original=tokens, selected=noise, action=action, span_lengths=noise_len,
                           span_valid=valid, source_len=src_len, target_len=tgt_len + 1)
        return Noised(source=src, source_len=src_len, diag=diag, target=tgt)


def needs_sentinel(cfg, vocab) -> None:
    """A T5-style model is asked with the sentinel [X0]: a vocabulary without one (another tokenizer than the
    run's) is refused in one line."""
    if not vocab.n_sentinels:
        raise MaskbenchError(f"{cfg.name}: the model's vocabulary has no sentinel [X0], which a T5-style model is "
                             f"asked with: use the run's own tokenizer.json")
