"""Sentence-pair classification (NLI): `[CLS] A [SEP] B [SEP]` with segments 0/1 (encoder) or the BART
recipe (encoder-decoder) -> a label. Everything but the pair framing is single-sentence classification."""

from __future__ import annotations

from maskbench.tasks.sentence import SentenceClassification


class PairClassification(SentenceClassification):
    name = "pair_classification"
    n_fields = 2
