"""How a model is asked about a sentence in zero-shot scoring (`maskbench score`, maskbench/zeroshot/): the
`Inputs` an objective's corruption answers from its `zero_shot_inputs` hook (corruption/base.py). It lives in
this layer, beside the objectives, so that each objective says how its own encoder-decoder is asked and the
scorer above names none of them.

An encoder is asked by pseudo-log-likelihood whatever its objective. An encoder-decoder reads a corrupted
sentence and writes the original: each token in turn (`pll`; `pll-word`: with its word's later sub-words) is
hidden in the encoder's input the way its objective hid text in pretraining, and the decoder scores it
(`all-masked`: the whole sentence hidden, the decoder's log-likelihood of all of it in one pass). The built-in
answers (each in its objective's module):

  objective                     a hidden run of tokens becomes      the decoder reads                    scored at
  bart_infill, bart (spans)     one [MASK]                          [BOS] + the original (teacher-forced)  the run's first token
  bart_mask, bert_mlm, span_mlm one [MASK] per token                the same
  bart_delete                   nothing (deleted)                   the same
  bart_permute, bart_rotate     one [MASK] (they never mask: said)  the same
  mass_span                     one [MASK] per token                the token before the fragment, at its position
  t5_span                       the sentinel [X0]                   [BOS] [X0]
  ul2                           [R] mode token first, [X0]          [BOS] [X0]   (all-masked: [S] alone, a prefix LM)
  a transformers folder         one [MASK] (BART's text infilling)  [BOS] + the original (zeroshot/inputs.py)
"""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("pll", "pll-word", "all-masked")
# How a hidden run of tokens appears in an encoder-decoder's input.
MASKS, ONE_MASK, SENTINEL, DELETE = "masks", "one_mask", "sentinel", "delete"
# What its decoder reads before the token it scores.
WHOLE, FRAGMENT, AFTER_SENTINEL = "whole", "fragment", "after_sentinel"


@dataclass(frozen=True)
class Inputs:
    encoder_only: bool
    hide: str = MASKS             # encoder-decoders: what a hidden run becomes in the encoder's input
    decoder: str = WHOLE          # encoder-decoders: what the decoder reads
    prefix: tuple[int, ...] = ()  # ids put before the source (e.g. a mode token)
    note: str = ""                # said beside the results where the input is a compromise

    def describe(self, method: str) -> str:
        if self.encoder_only:
            return {"pll": "pseudo-log-likelihood: each token masked in turn (Salazar et al. 2020)",
                    "pll-word": "pseudo-log-likelihood, a word's later sub-words masked too (PLL-word-l2r, "
                                "Kauf & Ivanova 2023)"}[method]
        hidden = {MASKS: "one [MASK] per token", ONE_MASK: "one [MASK]", SENTINEL: "the sentinel [X0]",
                  DELETE: "deleted"}[self.hide]
        if method == "all-masked":
            return f"decoder log-likelihood of the whole sentence, hidden in the encoder's input ({hidden})"
        unit = "token and its word's later sub-words" if method == "pll-word" else "token"
        return f"decoder log-probability of each {unit} in turn, hidden in the encoder's input ({hidden})"
