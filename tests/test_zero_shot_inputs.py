"""The input `maskbench score` asks each packaged preset's model with, pinned: the table below is what the scorer
chose while it still branched on objective families itself (before the choice moved into each objective's
`zero_shot_inputs` hook), so the move changed no objective's input, note or refusal."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from maskbench.arch import arch_of
from maskbench.config import CONF_DIR
from maskbench.errors import MaskbenchError
from maskbench.config.typed import typed_group
from maskbench.zeroshot.inputs import (AFTER_SENTINEL, DELETE, FRAGMENT, MASKS, METHODS, ONE_MASK, SENTINEL, WHOLE,
                                       Inputs, inputs_for)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_objective.py"
VOCAB = SimpleNamespace(n_sentinels=10, sentinel0=50)  # [X0]..[X9] = 50..59; UL2's modes [R] [X] [S] = 57, 58, 59
NO_SENTINELS = SimpleNamespace(n_sentinels=0, sentinel0=50)
NEW_MASK = "{} never masks text in pretraining: the [MASK] of its zero-shot input is new to it"

# preset -> (what a hidden run becomes, what the decoder reads, prefix ids, note) on an encoder-decoder, for pll and
# pll-word; all-masked the same except where ALL_MASKED says otherwise.
ENCODER_DECODER = {
    "bart": (ONE_MASK, WHOLE, (), ""),
    "bart_delete": (DELETE, WHOLE, (), ""),
    "bart_infill": (ONE_MASK, WHOLE, (), ""),
    "bart_mask": (MASKS, WHOLE, (), ""),
    "bart_permute": (ONE_MASK, WHOLE, (), NEW_MASK.format("bart_permute")),
    "bart_rotate": (ONE_MASK, WHOLE, (), NEW_MASK.format("bart_rotate")),
    "bert_mlm": (MASKS, WHOLE, (), ""),
    "bert_mlm_40": (MASKS, WHOLE, (), ""),
    "bert_mlm_nsp": (MASKS, WHOLE, (), ""),
    "mass_span": (MASKS, FRAGMENT, (), ""),
    "span_mlm": (MASKS, WHOLE, (), ""),
    "t5_span": (SENTINEL, AFTER_SENTINEL, (), ""),
    "ul2": (SENTINEL, AFTER_SENTINEL, (57,), ""),  # after its [R] mode token
}
ALL_MASKED = {"ul2": (DELETE, WHOLE, (59,), "")}  # [S], its prefix-LM mode, with an empty prefix
ENCODER = {"bert_mlm", "bert_mlm_40", "bert_mlm_nsp", "electra", "gpt_bert", "span_mlm"}


def _preset(name: str):
    return typed_group("corruption", OmegaConf.load(CONF_DIR / "corruption" / f"{name}.yaml"))


def test_every_packaged_preset_is_pinned_for_the_architectures_it_fits():
    for path in sorted((CONF_DIR / "corruption").glob("*.yaml")):
        archs = _preset(path.stem).archs
        assert ("encoder_decoder" in archs) == (path.stem in ENCODER_DECODER), path.stem
        assert ("encoder" in archs) == (path.stem in ENCODER), path.stem


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(ENCODER_DECODER))
def test_an_encoder_decoder_is_asked_as_before(name, method):
    pinned = ALL_MASKED.get(name, ENCODER_DECODER[name]) if method == "all-masked" else ENCODER_DECODER[name]
    got = inputs_for(arch_of("encoder_decoder"), _preset(name), name, VOCAB, method)
    assert got == Inputs(False, *pinned)


@pytest.mark.parametrize("name", sorted(ENCODER))
def test_an_encoder_is_asked_by_pseudo_log_likelihood(name):
    for method in ("pll", "pll-word"):
        assert inputs_for(arch_of("encoder"), _preset(name), name, VOCAB, method) == Inputs(encoder_only=True)
    with pytest.raises(MaskbenchError, match="--method all-masked is for encoder-decoders"):
        inputs_for(arch_of("encoder"), _preset(name), name, VOCAB, "all-masked")


@pytest.mark.parametrize("name", ["t5_span", "ul2"])
def test_a_t5_style_model_without_sentinels_is_one_line(name):
    for method in METHODS:
        with pytest.raises(MaskbenchError, match=rf"^{name}: the model's vocabulary has no sentinel \[X0\], which a "
                                                 rf"T5-style model is asked with: use the run's own tokenizer.json$"):
            inputs_for(arch_of("encoder_decoder"), _preset(name), name, NO_SENTINELS, method)


def test_a_transformers_folder_is_asked_with_barts_text_infilling_input():
    for method in METHODS:
        got = inputs_for(arch_of("encoder_decoder"), None, "transformers:bart", NO_SENTINELS, method)
        assert got == Inputs(False, ONE_MASK, WHOLE, note="transformers:bart: asked with BART's text-infilling input")
    assert inputs_for(arch_of("encoder"), None, "transformers:bert", NO_SENTINELS, "pll") == Inputs(True)


def test_an_unknown_method_and_an_objective_without_an_input_are_one_line():
    with pytest.raises(MaskbenchError, match="^--method best: choose one of pll, pll-word, all-masked$"):
        inputs_for(arch_of("encoder"), _preset("bert_mlm"), "bert_mlm", VOCAB, "best")
    node = OmegaConf.load(EXAMPLE.parent / "conf" / "corruption" / "my_objective.yaml")
    node.objective = f"{EXAMPLE}:RandomTokenMLM"  # the example plug-in, which defines no encoder-decoder input
    mine = typed_group("corruption", node)
    with pytest.raises(MaskbenchError, match="^my_objective: no zero-shot input is defined for corruption family "
                                             "my_objective on an encoder-decoder"):
        inputs_for(arch_of("encoder_decoder"), mine, "my_objective", VOCAB, "pll")


def test_a_plugin_is_asked_with_the_input_its_own_hook_answers():
    from dataclasses import dataclass
    from typing import ClassVar

    node = OmegaConf.load(EXAMPLE.parent / "conf" / "corruption" / "my_objective.yaml")
    node.objective = f"{EXAMPLE}:RandomTokenMLM"
    plugin = type(typed_group("corruption", node))

    class Asked(plugin.implementation):
        @classmethod
        def zero_shot_inputs(cls, cfg, vocab, method):
            return Inputs(False, MASKS, WHOLE, note=f"{cfg.name} asked by {method}")

    @dataclass(frozen=True)
    class AskedMLM(plugin):
        implementation: ClassVar = Asked

    got = inputs_for(arch_of("encoder_decoder"), AskedMLM(name="asked"), "asked", VOCAB, "pll-word")
    assert got == Inputs(False, MASKS, WHOLE, note="asked asked by pll-word")
