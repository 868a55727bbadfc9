"""How a model is asked about a sentence: the corrupted input that fits the objective it was pretrained with.

An encoder is asked by pseudo-log-likelihood (Salazar et al. 2020): each position in turn is replaced by [MASK]
and the model's log-probability of the true token there is summed. `pll-word` (Kauf & Ivanova 2023, "PLL-word-l2r")
also masks the later sub-words of the same word, so a word's first piece is not guessed from its own rest.

An encoder-decoder reads a corrupted sentence and writes the original: its decoder scores the sentence. With
`pll` each position in turn (with `pll-word`, the rest of its word too) is hidden in the encoder's input the way
the objective hides text, and the decoder's log-probability of that token is summed (BabyLM's `enc_dec_mask`
backend does this for T5's sentinels); with `all-masked` the whole sentence is hidden and the decoder's
log-likelihood of all of it is read in one pass (a true likelihood; the decoder is then a language model).

How the objective hid text is its own answer: its corruption's `zero_shot_inputs` hook (corruption/base.py), the
Inputs of corruption/zero_shot.py, whose docstring tables the built-in ones. A transformers folder has no
objective here: it is asked with BART's text-infilling input, and says so.
"""

from __future__ import annotations

from maskbench.corruption.zero_shot import (AFTER_SENTINEL, DELETE, FRAGMENT, MASKS, METHODS,  # noqa: F401
                                            ONE_MASK, SENTINEL, WHOLE, Inputs)
from maskbench.errors import MaskbenchError


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
    if corruption is None:  # the most common text-to-text pretraining; a compromise, said beside the results
        return Inputs(False, ONE_MASK, WHOLE, note=f"{objective}: asked with BART's text-infilling input")
    from maskbench.corruption.registry import noise_class

    return noise_class(corruption).zero_shot_inputs(corruption, vocab, method)
