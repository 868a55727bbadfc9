"""Sentence scores, batched: the sum of a model's log-probabilities of a sentence's tokens (maskbench/zeroshot/inputs.py
says which input each token is scored from).

Every masked copy of a chunk of sentences is built as one tensor (row r: sentence `sent[r]` with its hidden run
starting at token `at[r]`), run through the model in one call, and the log-probability of each row's token is summed
per sentence with one index_add: no Python loop over tokens. Only text tokens are scored, never [CLS]/[SEP]/[BOS]/
[EOS] or a sentinel; [UNK] stands for text and is scored like any token. Sentences are sorted by length and chunked
to about `batch_tokens` input tokens per forward pass.
"""

from __future__ import annotations

import torch

from maskbench.batch import Batch
from maskbench.corruption.zero_shot import AFTER_SENTINEL, DELETE, FRAGMENT, MASKS, ONE_MASK, SENTINEL, WHOLE, Inputs
from maskbench.models.encoder import EncoderModel
from maskbench.models.rows import Rows

BATCH_TOKENS = 32768


@torch.inference_mode()
def score_sentences(model, inputs: Inputs, vocab, seqs: list[list[int]], words: list[list[int]] | None = None,
                    method: str = "pll", batch_tokens: int = BATCH_TOKENS, progress=None) -> list[float]:
    """Sum of log-probabilities of each token list in `seqs` (text ids, no framing). `words[k]`: the word index of
    each token of `seqs[k]` (pll-word). `progress(n)`, if given, is called with the sentences done."""
    out = [0.0] * len(seqs)
    order = sorted((k for k in range(len(seqs)) if seqs[k]), key=lambda k: len(seqs[k]))
    one_row = method == "all-masked"
    chunk: list[int] = []
    rows = width = 0
    for k in order + [None]:
        if k is not None:
            n = len(seqs[k])
            cost = (rows + (1 if one_row else n)) * (max(width, n) + 4 + len(inputs.prefix))
            if not chunk or cost <= batch_tokens:
                chunk.append(k)
                rows, width = rows + (1 if one_row else n), max(width, n)
                continue
        sums = _score_chunk(model, inputs, vocab, [seqs[j] for j in chunk],
                            [words[j] for j in chunk] if words is not None else None, method)
        for j, v in zip(chunk, sums.tolist()):
            out[j] = v
        if progress is not None:
            progress(len(chunk))
        if k is not None:
            chunk, rows, width = [k], (1 if one_row else len(seqs[k])), len(seqs[k])
    if progress is not None and len(order) < len(seqs):
        progress(len(seqs) - len(order))  # empty sentences: nothing to score (0.0)
    return out


def _padded(seqs: list[list[int]], fill: int) -> tuple[torch.Tensor, torch.Tensor]:
    """([K, N] ids right-padded with `fill`, [K] lengths)."""
    n = torch.tensor([len(s) for s in seqs])
    t = torch.full((len(seqs), int(n.max())), fill, dtype=torch.long)
    for k, s in enumerate(seqs):
        t[k, :len(s)] = torch.tensor(s, dtype=torch.long)
    return t, n


def _rows(n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sentence of each row, token index of each row): one row per token of each sentence."""
    sent = torch.repeat_interleave(torch.arange(len(n)), n)
    start = torch.cumsum(n, 0) - n
    return sent, torch.arange(len(sent)) - start[sent]


def _run_end(words: torch.Tensor | None, sent: torch.Tensor, at: torch.Tensor, n: torch.Tensor,
             word_level: bool) -> torch.Tensor:
    """End (exclusive) of each row's hidden run: the token itself, or also its word's later sub-words."""
    if not word_level:
        return at + 1
    w = words[sent]                                           # [R, N]
    own = w.gather(1, at[:, None])
    later = (w == own) & (torch.arange(w.shape[1])[None, :] > at[:, None])
    return at + 1 + later.sum(1)                              # a word's pieces are contiguous


def _score_chunk(model, inputs: Inputs, vocab, seqs, words, method) -> torch.Tensor:
    t, n = _padded(seqs, vocab.pad)
    w = _padded(words, -1)[0] if words is not None else None
    if inputs.encoder_only:
        return _encoder_pll(model, vocab, t, n, w, method == "pll-word")
    if method == "all-masked":
        return _decoder_whole(model, inputs, vocab, t, n)
    return _decoder_pll(model, inputs, vocab, t, n, w, method == "pll-word")


def _log_prob(model, states: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """log p(target) of each row's states [R, D] under the model's LM head (its whole vocabulary)."""
    logits = model.lm_head(states).float()
    return logits.gather(1, target[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)


def _encoder_pll(model, vocab, t, n, w, word_level: bool) -> torch.Tensor:
    K, N = t.shape
    L = N + 2
    framed = torch.full((K, L), vocab.pad, dtype=torch.long)
    framed[:, 0] = vocab.cls
    framed[:, 1:N + 1] = t
    framed[torch.arange(K), n + 1] = vocab.sep
    sent, at = _rows(n)
    end = _run_end(w, sent, at, n, word_level)
    pos = torch.arange(L)[None, :]
    x = framed[sent]
    hidden = (pos >= at[:, None] + 1) & (pos < end[:, None] + 1)
    x = x.masked_fill(hidden, vocab.mask)
    pad = pos > (n[sent] + 1)[:, None]
    batch = Batch(input_ids=x, labels=x, pad_mask=pad if bool(pad.any()) else None)
    where = Rows.where(pos == at[:, None] + 1)  # one scored position per row, in row order
    if isinstance(model, EncoderModel):
        states = model(batch, at=where)       # the last block runs at the scored positions only
    else:                                     # an objective's own fill model: every position, then the scored ones
        states = where.take(model(batch))
    lp = _log_prob(model, states, t[sent, at])
    return torch.zeros(K, dtype=torch.float64).index_add_(0, sent, lp.double())


def _source(inputs: Inputs, vocab, t, n, sent, at, end) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[R, S] encoder input: [BOS] prefix t[:at] insert t[end:] [EOS], right-padded; and its pad mask."""
    R = len(sent)
    P = len(inputs.prefix)
    gone = end - at
    m = {MASKS: gone, ONE_MASK: torch.ones_like(gone), SENTINEL: torch.ones_like(gone),
         DELETE: torch.zeros_like(gone)}[inputs.hide]
    length = P + n[sent] - gone + m                           # content length per row
    S = int(length.max()) + 2
    q = torch.arange(S)[None, :] - 1                          # content index of each position ([BOS] is -1)
    a, mm = at[:, None] + P, m[:, None]
    rows = t[sent]
    src_before = (q - P).clamp(0, t.shape[1] - 1).expand(R, -1)
    src_after = (q - P - mm + gone[:, None]).clamp(0, t.shape[1] - 1)
    ins = vocab.sentinel0 if inputs.hide == SENTINEL else vocab.mask
    x = torch.where(q < a, rows.gather(1, src_before),
                    torch.where(q < a + mm, torch.full_like(rows[:, :1], ins), rows.gather(1, src_after)))
    if P:
        prefix = torch.tensor(inputs.prefix, dtype=torch.long)
        x = torch.where((q >= 0) & (q < P), prefix[q.clamp(0, P - 1)].expand(R, -1), x)
    x = torch.where(q == -1, vocab.bos, x)
    x = torch.where(q == length[:, None], vocab.eos, x)
    pad = q > length[:, None]
    x = x.masked_fill(pad, vocab.pad)
    return x, (pad if bool(pad.any()) else None)


def _decoder_pll(model, inputs: Inputs, vocab, t, n, w, word_level: bool) -> torch.Tensor:
    K = t.shape[0]
    sent, at = _rows(n)
    end = _run_end(w, sent, at, n, word_level)
    x, pad = _source(inputs, vocab, t, n, sent, at, end)
    target = t[sent, at]
    prev = torch.where(at > 0, t[sent, (at - 1).clamp(min=0)], vocab.bos)
    R = len(sent)
    if inputs.decoder == WHOLE:        # [BOS] t[0] ... t[N-2], teacher-forced; read at the row's token
        dec = torch.cat([torch.full((R, 1), vocab.bos), t[sent, :-1]], 1) if t.shape[1] > 1 \
            else torch.full((R, 1), vocab.bos)
        positions, read = None, at
    elif inputs.decoder == FRAGMENT:   # the token before the hidden run, at the run's position
        dec, positions, read = prev[:, None], at[:, None], torch.zeros_like(at)
    else:                              # AFTER_SENTINEL: [BOS] [X0], then the run's first token
        dec = torch.stack([torch.full_like(at, vocab.bos), torch.full_like(at, vocab.sentinel0)], 1)
        positions, read = None, torch.ones_like(at)
    states = _decode(model, x, pad, dec, positions)
    lp = _log_prob(model, states[torch.arange(R), read], target)
    return torch.zeros(K, dtype=torch.float64).index_add_(0, sent, lp.double())


def _decoder_whole(model, inputs: Inputs, vocab, t, n) -> torch.Tensor:
    K, N = t.shape
    rows = torch.arange(K)
    x, pad = _source(inputs, vocab, t, n, rows, torch.zeros_like(n), n)
    shifted = torch.cat([torch.full((K, 1), vocab.bos), t[:, :-1]], 1)
    if inputs.decoder == AFTER_SENTINEL:
        dec = torch.cat([torch.full((K, 1), vocab.bos), torch.full((K, 1), vocab.sentinel0), t[:, :-1]], 1)
        positions, offset = None, 1
    else:
        dec, offset = shifted, 0
        positions = torch.arange(N)[None, :].expand(K, N) if inputs.decoder == FRAGMENT else None
    states = _decode(model, x, pad, dec, positions)[:, offset:offset + N]
    real = torch.arange(N)[None, :] < n[:, None]
    lp = _log_prob(model, states[real], t[real])
    return torch.zeros(K, dtype=torch.float64).index_add_(0, rows[:, None].expand(K, N)[real], lp.double())


def _decode(model, x, pad, dec, positions) -> torch.Tensor:
    batch = Batch(input_ids=x, labels=dec, pad_mask=pad, decoder_input_ids=dec, decoder_positions=positions)
    return model(batch)
