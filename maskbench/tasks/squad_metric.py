"""The official SQuAD v1.1 EM / F1: answer normalisation (lower case, no punctuation, no articles,
single spaces), token-overlap F1, maximum over the reference answers."""

from __future__ import annotations

import re
import string
from collections import Counter

_PUNCT = set(string.punctuation)


def normalize_answer(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, truth: str) -> float:
    p, t = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = Counter(p) & Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def squad_example_scores(predictions: dict[str, str], references: dict[str, list[str]]) -> dict[str, tuple]:
    """qid -> (exact match, F1) in [0, 1], the maximum over the question's reference answers."""
    out = {}
    for qid, truths in references.items():
        pred = predictions.get(qid, "")
        out[qid] = (max(exact_match(pred, t) for t in truths), max(f1_score(pred, t) for t in truths))
    return out


def squad_scores(predictions: dict[str, str], references: dict[str, list[str]]) -> dict:
    """{'exact_match': %, 'f1': %} over the questions in `references` (missing predictions score 0)."""
    per = squad_example_scores(predictions, references).values()
    n = max(len(references), 1)
    return {"exact_match": 100.0 * sum(e for e, _ in per) / n, "f1": 100.0 * sum(f for _, f in per) / n}
