"""What a masked LM on its plateau knows, counted: the guesses of the unigram and of neighbour bigrams on the same
validation labels, and the step where a run first does better than reading one neighbour would.

A masked LM first learns which tokens are in a text (the unigram guess, then a bag of its tokens), then where they
are. On the main job's reviews the unigram guess scores 4.8% of the masked positions and the best one-neighbour
bigram 20.0%, while learned-position encoders sit at 15-16% for ~1,700 steps: they know which characters are in a
block, not where. A run "leaves the plateau" at its first evaluation whose masked accuracy beats the one-neighbour
bigram: it reads its neighbours, which needs positions. The neighbours are the tokens of the corrupted input the
model reads (after a masked neighbour, a [MASK], training text never has a token: the guess falls back to the
unigram). Counts come from the training split's token stream.
"""

from __future__ import annotations

import math

import torch


def count_baselines(train_tokens: torch.Tensor, val: list, vocab) -> dict:
    """Accuracy of the unigram, left/right bigram (and the better of the two: `bigram`) and both-neighbour guesses on
    the labelled positions of the validation batches `val`; `labels`: how many positions were scored."""
    V = vocab.size
    t = train_tokens.long()
    special = torch.zeros(V, dtype=torch.bool)
    special[list(vocab.special_ids)] = True
    uni = torch.bincount(t, minlength=V).float()
    uni[special] = -1
    top = int(uni.argmax())
    left = torch.bincount(t[:-1] * V + t[1:], minlength=V * V).view(V, V)    # [previous, this]
    guess_left = torch.where(left.sum(1) > 0, left.argmax(1), torch.tensor(top))
    del left
    right = torch.bincount(t[1:] * V + t[:-1], minlength=V * V).view(V, V)   # [next, this]
    guess_right = torch.where(right.sum(1) > 0, right.argmax(1), torch.tensor(top))
    del right
    # Both neighbours: the most frequent middle token of each (previous, next) pair seen in training.
    triples, counts = torch.unique((t[:-2] * V + t[2:]) * V + t[1:-1], return_counts=True)
    pair = triples // V
    order = torch.argsort(pair * (counts.max() + 1) - counts)  # by pair, most frequent first
    pair, middle = pair[order], (triples % V)[order]
    first = torch.ones_like(pair, dtype=torch.bool)
    first[1:] = pair[1:] != pair[:-1]
    pair_keys, pair_guess = pair[first], middle[first]

    hits = dict.fromkeys(("unigram", "bigram_left", "bigram_right", "both_neighbours"), 0)
    n = 0
    for b in val:
        sel = b.labels >= 0
        S = b.input_ids.shape[1]
        bi, pi = sel.nonzero(as_tuple=True)
        target = b.labels[bi, pi]
        prev = b.input_ids[bi, (pi - 1).clamp(min=0)]
        nxt = b.input_ids[bi, (pi + 1).clamp(max=S - 1)]
        hits["unigram"] += int((target == top).sum())
        hits["bigram_left"] += int((guess_left[prev] == target).sum())
        hits["bigram_right"] += int((guess_right[nxt] == target).sum())
        q = prev * V + nxt
        at = torch.searchsorted(pair_keys, q).clamp(max=len(pair_keys) - 1)
        both = torch.where(pair_keys[at] == q, pair_guess[at], guess_left[prev])
        hits["both_neighbours"] += int((both == target).sum())
        n += int(sel.sum())
    out = {k: v / max(n, 1) for k, v in hits.items()}
    out["bigram"] = max(out["bigram_left"], out["bigram_right"])
    out["labels"] = n
    return out


def prior_entropy(p: float) -> float:
    """Binary cross-entropy (nats) of always answering p(replaced) = p: the loss of an ELECTRA discriminator that
    ignores its input."""
    return -(p * math.log(p) + (1 - p) * math.log(1 - p)) if 0 < p < 1 else 0.0


def rtd_against_prior(evals: list[dict]) -> list[dict]:
    """An ELECTRA run's discriminator at each evaluation against the prior: `gap` = replaced-token loss minus the
    entropy of that evaluation's replaced share (negative: the discriminator reads the tokens)."""
    rows = [(e["step"], e["rtd_loss"], prior_entropy(e["replaced_share"])) for e in evals
            if e.get("rtd_loss") is not None and e.get("replaced_share") is not None]
    return [{"step": step, "rtd_loss": loss, "prior": prior, "gap": loss - prior} for step, loss, prior in rows]


def plateau_exit(evals: list[dict], bigram: float, acc_key: str = "masked_acc") -> dict | None:
    """The first evaluation whose masked accuracy beats the one-neighbour bigram, or None."""
    return next((p for p in evals if p.get(acc_key) is not None and p[acc_key] > bigram), None)


def run_exit(run) -> dict:
    """Where a pretraining run left the MLM plateau: its validation-loss plateaus (report/plateaus.py) and, for an
    encoder run with masked-token labels (any masked LM, or a generator trained as one), the count baselines of its own
    validation batches (rebuilt from its config.yaml as pretraining built them: same corruption, seed and blocks) and
    `plateau_exit`, the first evaluation whose masked accuracy beats the one-neighbour bigram (None when it never
    did). Reads the run's token cache (rebuilt from data.paths if it is gone)."""
    from pathlib import Path

    from omegaconf import OmegaConf

    from maskbench.arch import arch_of
    from maskbench.corruption import build_corruption
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab
    from maskbench.report.plateaus import find_plateaus
    from maskbench.runs.layout import config_path
    from maskbench.runs.rundir import read_metrics
    from maskbench.train.batches import validation_batches
    from maskbench.config.typed import typed_config

    run = Path(run)
    cfg = typed_config(OmegaConf.load(config_path(run)))
    vals = [e for e in read_metrics(run) if e.get("split") == "val"]
    out = {"run": str(run), "corruption": cfg.corruption.name, "positions": cfg.model.positions,
           "last": {k: vals[-1].get(k) for k in ("step", "loss", "mlm_acc", "rtd_loss", "replaced_share")} if vals
           else None, "loss_plateaus": find_plateaus([(e["step"], e["loss"]) for e in vals])}
    if vals and vals[-1].get("rtd_loss") is not None:
        out["rtd_vs_prior"] = rtd_against_prior(vals)
    if not arch_of(cfg.arch.name).encoder_only or not any(e.get("mlm_acc") is not None for e in vals):
        return out
    cache = build_cache(cfg.data)
    vocab = Vocab.from_tokenizer(load_cache_tokenizer(cache))
    corruption = build_corruption(cfg.corruption, cfg.arch.name, vocab)
    train = BlockStore(cache, "train", cfg.data.content_len)
    val = validation_batches(BlockStore(cache, "val", cfg.data.content_len), corruption, cfg.seed,
                             cfg.data.val_blocks, cfg.train.batch_size)
    base = count_baselines(torch.from_numpy(train.tokens[:train.n_blocks * train.content_len].astype("int64")),
                           val, vocab)
    out["baselines"] = base
    out["plateau_exit"] = plateau_exit(vals, base["bigram"], acc_key="mlm_acc")
    return out
