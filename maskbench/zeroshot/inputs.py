"""How a model is asked about a sentence: the corrupted input that fits the objective it was pretrained with.

An encoder is asked by pseudo-log-likelihood (Salazar et al. 2020): each position in turn is replaced by [MASK]
and the model's log-probability of the true token there is summed. `pll-word` (Kauf & Ivanova 2023, "PLL-word-l2r")
also masks the later sub-words of the same word, so a word's first piece is not guessed from its own rest.

An encoder-decoder reads a corrupted sentence and writes the original: its decoder scores the sentence. With
`pll` each position in turn (with `pll-word`, the rest of its word too) is hidden in the encoder's input the way
the objective hides text, and the decoder's log-probability of that token is summed (BabyLM's `enc_dec_mask`
backend does this for T5's sentinels); with `all-masked` the whole sentence is hidden and the decoder's
log-likelihood of all of it is read in one pass (a true likelihood; the decoder is then a language model).

  objective                     a hidden run of tokens becomes      the decoder reads                    scored at
  bart_infill, bart (spans)     one [MASK]                          [BOS] + the original (teacher-forced)  the run's first token
  bart_mask, bert_mlm, span_mlm one [MASK] per token                the same
  bart_delete                   nothing (deleted)                   the same
  bart_permute, bart_rotate     one [MASK] (they never mask: said)  the same
  mass_span                     one [MASK] per token                the token before the fragment, at its position
  t5_span                       the sentinel [X0]                   [BOS] [X0]
  ul2                           [R] mode token first, [X0]          [BOS] [X0]   (all-masked: [S] alone, a prefix LM)
  a transformers folder         one [MASK] (BART's text infilling)  [BOS] + the original
"""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.errors import MaskbenchError

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
    prefix: tuple[int, ...] = ()  # ids put before the source (UL2's mode token)
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


def inputs_for(arch, corruption, objective: str, vocab, method: str) -> Inputs:
    """The Inputs for a model of `arch` pretrained with `corruption` (its typed config, None for a transformers
    folder; `objective` names it)."""
    if method not in METHODS:
        raise MaskbenchError(f"--method {method}: choose one of {', '.join(METHODS)}")
    if arch.encoder_only:
        if method == "all-masked":
            raise MaskbenchError("--method all-masked is for encoder-decoders (their decoder scores a whole "
                                 "sentence); an encoder is scored by pll or pll-word")
        return Inputs(encoder_only=True)
    family = getattr(corruption, "family", None)
    if family is None:
        return Inputs(False, ONE_MASK, WHOLE, note=f"{objective}: asked with BART's text-infilling input")
    if family in ("bert", "span"):
        return Inputs(False, MASKS, WHOLE)
    if family == "bart":
        if corruption.replace == "delete":
            return Inputs(False, DELETE, WHOLE)
        if corruption.span == "poisson":
            return Inputs(False, ONE_MASK, WHOLE)
        if corruption.span == "token" and corruption.mask_prob > 0:
            return Inputs(False, MASKS, WHOLE)
        return Inputs(False, ONE_MASK, WHOLE, note=f"{objective} never masks text in pretraining: the [MASK] of "
                                                   f"its zero-shot input is new to it")
    if family == "mass":
        return Inputs(False, MASKS, FRAGMENT)
    if family in ("t5", "ul2") and not vocab.n_sentinels:
        raise MaskbenchError(f"{objective}: the model's vocabulary has no sentinel [X0], which a T5-style model is "
                             f"asked with: use the run's own tokenizer.json")
    if family == "t5":
        return Inputs(False, SENTINEL, AFTER_SENTINEL)
    if family == "ul2":
        from maskbench.corruption.ul2 import mode_ids

        modes = mode_ids(vocab)
        if method == "all-masked":  # the S denoiser with an empty prefix: the decoder continues from nothing
            return Inputs(False, DELETE, WHOLE, prefix=(modes["S"],))
        return Inputs(False, SENTINEL, AFTER_SENTINEL, prefix=(modes["R"],))
    raise MaskbenchError(f"{objective}: no zero-shot input is defined for corruption family {family} on an "
                         f"encoder-decoder")

