"""Batched span machinery shared by span_mlm, BART infilling and T5: lay out spans, build masks,
and assemble variable-length outputs, with no per-token Python loops."""

from __future__ import annotations

import torch

from maskbench.corruption.keyed_random import KeyedRandom


def random_parts(total: torch.Tensor, n_parts: torch.Tensor, max_parts: int, rng: KeyedRandom,
                 stream: int, max_total: int) -> torch.Tensor:
    """Split total[b] into n_parts[b] positive integers at random (distinct cut points).

    Returns [B, max_parts]; entries past n_parts[b] are 0. Needs 1 <= n_parts <= total <= max_total.
    """
    B, dev = total.shape[0], total.device
    n_cand = max(max_total - 1, max_parts - 1, 1)
    cand = torch.arange(1, n_cand + 1, device=dev)[None, :]
    keys = torch.where(cand < total[:, None], rng.uniform(stream, n_cand).to(dev), 2.0)
    cuts = keys.argsort(dim=1)[:, : max_parts - 1] + 1
    valid = torch.arange(max_parts - 1, device=dev)[None, :] < (n_parts - 1)[:, None]
    cuts = torch.where(valid, cuts, total[:, None]).sort(dim=1).values
    zero = torch.zeros(B, 1, dtype=torch.int64, device=dev)
    return torch.cat([zero, cuts, total[:, None]], 1).diff(dim=1)


def place_with_gaps(lengths: torch.Tensor, valid: torch.Tensor, n_tokens: int, rng: KeyedRandom,
                    stream: int) -> torch.Tensor:
    """Start positions for spans placed in order with random gaps: leading/trailing gaps >= 0, gaps
    between spans >= 1 (so neighbouring spans never merge). Spans must fit: sum + (K-1) <= n_tokens."""
    B, K = lengths.shape
    k = valid.sum(1)
    free = n_tokens - (lengths * valid).sum(1)  # tokens outside spans
    # K spans -> K+1 gaps; add 1 to both end gaps so all K+1 parts are positive, then take it back.
    gaps = random_parts(free + 2, k + 1, K + 1, rng, stream, n_tokens + 2)
    gaps[:, 0] -= 1
    before = gaps[:, :K]
    lens = lengths * valid
    return before.cumsum(1) + lens.cumsum(1) - lens


def span_masks(starts: torch.Tensor, lengths: torch.Tensor, valid: torch.Tensor, n_tokens: int):
    """Token-level view of spans: (inside [B, C] bool, span_id [B, C] int, -1 outside)."""
    B, K = starts.shape
    dev = starts.device
    live = valid & (lengths > 0)
    delta = torch.zeros(B, n_tokens + 1, dtype=torch.int64, device=dev)
    delta.scatter_add_(1, torch.where(live, starts, n_tokens), live.long())
    delta.scatter_add_(1, torch.where(live, starts + lengths, n_tokens), -live.long())
    inside = delta.cumsum(1)[:, :n_tokens] > 0
    marks = torch.full((B, n_tokens + 1), -1, dtype=torch.int64, device=dev)
    kk = torch.arange(K, device=dev)[None, :].expand(B, K)
    marks.scatter_(1, torch.where(live, starts, n_tokens), torch.where(live, kk, -1))
    span_id = marks[:, :n_tokens].cummax(1).values
    return inside, torch.where(inside, span_id, -1)


def assemble(tokens: torch.Tensor, keep: torch.Tensor, insert: torch.Tensor, insert_ids: torch.Tensor,
             pad_id: int):
    """Build rows from kept tokens plus single inserted ids.

    Row b emits, for each position i = 0..C (C = one past the end): insert_ids[b, i] if insert[b, i],
    then tokens[b, i] if keep[b, i]. Returns (out [B, S] PAD-padded, lengths [B]).
    """
    B, C = tokens.shape
    dev = tokens.device
    keep_ext = torch.cat([keep, torch.zeros(B, 1, dtype=torch.bool, device=dev)], 1).long()
    ins = insert.long()
    n_out = ins + keep_ext
    offs = n_out.cumsum(1) - n_out
    lengths = n_out.sum(1)
    S = int(lengths.max()) if B else 0
    out = torch.full((B, S + 1), pad_id, dtype=tokens.dtype, device=dev)  # slot S = dump for no-ops
    out.scatter_(1, torch.where(insert, offs, S), insert_ids.to(tokens.dtype))
    tok_pos = torch.where(keep, offs[:, :C] + ins[:, :C], S)
    out.scatter_(1, tok_pos, tokens)
    out[:, S] = pad_id
    return out[:, :S], lengths


def starts_to_insert(starts: torch.Tensor, valid: torch.Tensor, ids: torch.Tensor, n_tokens: int):
    """Scatter per-span ids to their start positions: (insert [B, C+1] bool, insert_ids [B, C+1])."""
    B = starts.shape[0]
    dev = starts.device
    pos = torch.where(valid, starts, n_tokens + 1)
    insert = torch.zeros(B, n_tokens + 2, dtype=torch.bool, device=dev)
    insert.scatter_(1, pos, valid)
    insert_ids = torch.zeros(B, n_tokens + 2, dtype=torch.int64, device=dev)
    insert_ids.scatter_(1, pos, torch.where(valid, ids, 0))
    return insert[:, : n_tokens + 1], insert_ids[:, : n_tokens + 1]
