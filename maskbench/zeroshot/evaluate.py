"""Pairs in, accuracies out: tokenize each distinct sentence once, score each distinct token sequence once (so two
sentences that tokenize alike always get the same score), compare each pair's two scores, and summarise per group
and overall with intervals.

A pair is right when the grammatical sentence scores strictly higher. **A tie is wrong** (a model that gives both
sentences one score must not look perfect: one evaluation pipeline's argmax counted ties for the first sentence);
ties are counted, and so are the pairs whose sentences tokenize identically (e.g. differing only in letter case
under a lowercasing tokenizer), which every model ties. Accuracy intervals: Wilson score, 95%, over pairs
(report/uncertainty.py); the gap to the random-weight model: the paired bootstrap over pairs of compare's gaps.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from maskbench.errors import MaskbenchError
from maskbench.report.uncertainty import gap_interval, proportion_interval
from maskbench.zeroshot.pairs import Pair, groups_in_order

N_BOOT = 2000
INTERVAL = "Wilson score interval, 95%, over pairs"
GAP_INTERVAL = f"paired bootstrap over pairs ({N_BOOT} resamples), 95%"


@dataclass
class Encoded:
    pairs: list[Pair]
    seqs: list[list[int]]     # distinct token sequences
    words: list[list[int]]    # the word index of each of their tokens
    good: np.ndarray          # [P] index into seqs of each pair's grammatical sentence
    bad: np.ndarray

    @property
    def identical(self) -> np.ndarray:
        return self.good == self.bad


def encode_pairs(pairs: list[Pair], tok, max_tokens: int) -> Encoded:
    sentences = list(dict.fromkeys(s for p in pairs for s in (p.good, p.bad)))
    encodings = tok.encode_batch(sentences, add_special_tokens=False)
    index: dict[tuple, int] = {}
    seqs, words, of_sentence = [], [], {}
    for s, e in zip(sentences, encodings):
        ids = tuple(e.ids)
        if ids not in index:
            index[ids] = len(seqs)
            seqs.append(list(ids))
            # the word of each token (pll-word); a token without one (cannot happen for text) is its own word
            words.append([w if w is not None else -2 - i for i, w in enumerate(e.word_ids)])
        of_sentence[s] = index[ids]
    longest = max(range(len(seqs)), key=lambda k: len(seqs[k]))
    if len(seqs[longest]) > max_tokens:
        where = next(p.where for p in pairs if of_sentence[p.good] == longest or of_sentence[p.bad] == longest)
        raise MaskbenchError(f"{where}: a sentence is {len(seqs[longest])} tokens, more than the model's "
                             f"{max_tokens}: shorten it or leave the pair out")
    return Encoded(pairs, seqs, words, np.array([of_sentence[p.good] for p in pairs]),
                   np.array([of_sentence[p.bad] for p in pairs]))


def sentence_scores(zm, enc: Encoded, method: str, per_token: bool, progress=None) -> np.ndarray:
    """Each distinct sequence's score: the sum of its tokens' log-probabilities (`per_token`: their mean)."""
    from maskbench.zeroshot.scoring import score_sentences

    sums = np.array(score_sentences(zm.model, zm.inputs, zm.vocab, enc.seqs,
                                    enc.words if method == "pll-word" else None, method, progress=progress))
    if per_token:
        lengths = np.array([max(len(s), 1) for s in enc.seqs], dtype=np.float64)
        return sums / lengths
    return sums


@dataclass
class Outcomes:
    correct: np.ndarray   # [P] bool: good strictly above bad
    ties: np.ndarray      # [P] bool: the same score (counted wrong)


def outcomes(enc: Encoded, scores: np.ndarray) -> Outcomes:
    g, b = scores[enc.good], scores[enc.bad]
    return Outcomes(g > b, g == b)


def _part(o: Outcomes, idx) -> dict:
    correct, n = int(o.correct[idx].sum()), int(np.size(o.correct[idx]))
    return {"accuracy": round(100.0 * correct / n, 3), "ci": proportion_interval(correct, n), "correct": correct,
            "ties": int(o.ties[idx].sum())}


def _gap(pre: Outcomes, rnd: Outcomes, idx) -> dict:
    ones = np.ones(int(np.size(pre.correct[idx])))
    g = gap_interval([{"num": pre.correct[idx].astype(np.float64), "den": ones}],
                     [{"num": rnd.correct[idx].astype(np.float64), "den": ones}], N_BOOT)
    return {"gap": g["gap"], "ci": g["ci"], "separable": g["separable"],
            "verdict": g["verdict"].replace("scratch ahead", "random weights ahead")}


def summarise(enc: Encoded, pre: Outcomes, rnd: Outcomes | None) -> dict:
    """{"overall": ..., "groups": [...]}: accuracy with its interval, ties and identical pairs, for the pretrained
    model and (if given) the random-weight one, and the gap between them with its interval."""
    groups = []
    group_of = np.array([p.group for p in enc.pairs], dtype=object)
    fields = {}
    for p in enc.pairs:
        fields.setdefault(p.group, p.field)
    for name in groups_in_order(enc.pairs):
        idx = np.nonzero(group_of == name)[0]
        groups.append(_summary_row(enc, pre, rnd, idx, {"group": name, "field": fields[name]}))
    everything = np.arange(len(enc.pairs))
    overall = _summary_row(enc, pre, rnd, everything, {"groups": len(groups)})
    overall["mean_over_groups"] = {"pretrained": round(statistics.fmean(g["pretrained"]["accuracy"] for g in groups), 3)}
    if rnd is not None:
        overall["mean_over_groups"]["random"] = round(statistics.fmean(g["random"]["accuracy"] for g in groups), 3)
    return {"overall": overall, "groups": groups}


def _summary_row(enc, pre, rnd, idx, head: dict) -> dict:
    row = {**head, "pairs": int(len(idx)), "identical": int(enc.identical[idx].sum()), "pretrained": _part(pre, idx)}
    if rnd is not None:
        row["random"] = _part(rnd, idx)
        row["gap"] = _gap(pre, rnd, idx)
    return row


def scored_by(zm) -> str:
    """What produced the scores, said beside them."""
    if zm.predictor:
        return zm.predictor
    return "the decoder" if not zm.arch.encoder_only else "the MLM head"


def score_source(src, pairs: list[Pair], method: str = "pll", per_token: bool = False, seed: int = 0,
                 random: Outcomes | None | bool = True, progress=None) -> tuple[dict, Outcomes, Outcomes | None]:
    """Score `pairs` with a model source (runs/source.py) and its random-weight twin: (result, pretrained outcomes,
    random outcomes). `random`: True scores the twin, an Outcomes reuses one (checkpoints of one run share their
    tokenizer and shape), False leaves it out. `progress(label, total)` returns the function advanced by sentences."""
    import time

    from maskbench.zeroshot.model import checkpoint_label, load_model

    zm = load_model(src, method)
    enc = encode_pairs(pairs, zm.tok, zm.max_tokens)
    start = time.perf_counter()
    pre = outcomes(enc, sentence_scores(zm, enc, method, per_token,
                                        progress("pretrained", len(enc.seqs)) if progress else None))
    seconds = {"pretrained": round(time.perf_counter() - start, 2)}
    rnd = random if isinstance(random, Outcomes) else None
    if random is True:
        twin = load_model(src, method, random=True, seed=seed)
        start = time.perf_counter()
        rnd = outcomes(enc, sentence_scores(twin, enc, method, per_token,
                                            progress("random", len(enc.seqs)) if progress else None))
        seconds["random"] = round(time.perf_counter() - start, 2)
    name, step = checkpoint_label(src)
    result = {"source": str(src.source), "checkpoint": name, "step": step, "arch": zm.arch.name,
              "objective": zm.objective, "scored_by": scored_by(zm), "method": method,
              "method_text": zm.inputs.describe(method), "per_token": per_token, "note": zm.inputs.note or None,
              "random_seed": seed if rnd is not None else None, "sentences": len(enc.seqs),
              **summarise(enc, pre, rnd), "seconds": seconds}
    return result, pre, rnd
