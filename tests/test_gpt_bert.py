"""GPT-BERT (maskbench/corruption/gpt_bert.py): its corruption measured against its config, the one-position
label shift of both modes, causal rows that cannot see ahead, and pretraining on both budget units and export."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from maskbench.batch import IGNORE
from maskbench.config import load_config
from maskbench.corruption.keyed_random import example_keys
from maskbench.corruption.registry import build_corruption, build_pretraining_model
from maskbench.errors import MaskbenchError


def _gpt_bert(tiny_overrides, *extra):
    return load_config(tiny_overrides + ["corruption=gpt_bert", "corruption.mask_schedule=constant",
                                         "corruption.mask_prob=0.15", *extra])


def test_its_statistics_are_its_config(tiny_setup, tiny_overrides):
    from maskbench.inspect.corrupt import measure

    _, _, _, vocab, store = tiny_setup
    cfg = _gpt_bert(tiny_overrides, "corruption.clm_weight=3", "corruption.mntp_weight=5")  # 3/8 causal
    r = measure(build_corruption(cfg.corruption, "encoder", vocab), store, vocab, "gpt_bert", 3000)
    expected = cfg.corruption.configured_stats()
    assert r["specials_touched"] == 0
    assert r["causal_frac"] == pytest.approx(3 / 8, abs=0.03) == pytest.approx(expected["causal_frac"], abs=0.03)
    assert r["selected_frac"] == pytest.approx(0.15 * 5 / 8, abs=0.01)
    for key in ("mask_frac", "random_frac", "kept_frac"):
        assert r[key] == pytest.approx(expected[key], abs=0.02), key


def test_labels_sit_one_position_before_their_token_in_both_modes(tiny_setup, tiny_overrides):
    _, _, _, vocab, store = tiny_setup
    cfg = _gpt_bert(tiny_overrides, "corruption.clm_weight=1", "corruption.mntp_weight=1")
    blocks = store.get(torch.arange(64))
    batch = build_corruption(cfg.corruption, "encoder", vocab)(blocks, example_keys(0, 0, torch.arange(64)))
    causal, d = batch.extra["causal"], batch.diag
    assert 0 < int(causal.sum()) < 64
    C = blocks.tokens.shape[1]
    # framed: [CLS] t0 .. t(C-1) [SEP]; the label at position p is the token at p + 1
    lab = batch.labels
    assert (lab[:, -1] == IGNORE).all() and (lab[:, -2] == IGNORE).all()  # nothing predicts [SEP]
    for row in range(64):
        if causal[row]:
            assert torch.equal(lab[row, :C], blocks.tokens[row])  # every next token, from [CLS] on
            assert torch.equal(batch.input_ids[row, 1:C + 1], blocks.tokens[row])  # the text unchanged
        else:
            sel = d.selected[row]
            assert torch.equal(lab[row, :C][sel], blocks.tokens[row][sel])
            assert (lab[row, :C][~sel] == IGNORE).all()
    specials = vocab.unselectable_table()[blocks.tokens]
    assert not (d.selected & specials).any()


def test_a_causal_row_does_not_see_ahead_and_a_masked_row_does(tiny_setup, tiny_overrides):
    from maskbench.corruption.gpt_bert import states

    _, _, _, vocab, store = tiny_setup
    cfg = _gpt_bert(tiny_overrides)
    model = build_pretraining_model(cfg.model, "encoder", vocab.size, cfg.corruption, vocab).eval()
    blocks = store.get(torch.arange(2))
    batch = build_corruption(cfg.corruption, "encoder", vocab)(blocks, example_keys(0, 0, torch.arange(2)))
    batch.extra = {"causal": torch.tensor([True, False])}
    changed = dataclasses.replace(batch, input_ids=batch.input_ids.clone())
    changed.input_ids[:, 10] = vocab.text_ids()[5]
    with torch.no_grad():
        a, b = states(model, batch), states(model, changed)
    assert torch.allclose(a[0, :10], b[0, :10], atol=1e-5)  # causal: positions before 10 unchanged
    assert not torch.allclose(a[1, :10], b[1, :10], atol=1e-5)  # bidirectional: they change


@pytest.mark.parametrize("budget", [["train.budget_unit=flops", "train.budget=2e9"],
                                    ["train.budget_unit=seconds", "train.budget=2", "corruption.mask_schedule=constant"]])
def test_it_pretrains_on_both_budget_units_and_exports_as_an_encoder(tiny_overrides, tmp_path, budget):
    pytest.importorskip("transformers")
    from maskbench.train.pretrain import run_pretrain

    cfg = load_config(tiny_overrides + ["corruption=gpt_bert", f"run.dir={tmp_path / 'run'}", *budget])
    run = run_pretrain(cfg)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] > 0 and summary["budget"]["unit"] == budget[0].split("=")[1]
    out = tmp_path / "hf"
    proc = subprocess.run([sys.executable, "-m", "maskbench", "export", str(run), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    hf = json.loads((out / "config.json").read_text())
    assert hf["model_type"] in ("bert", "roberta", "roformer", "megatron-bert") and not hf.get("is_encoder_decoder")


def test_a_schedule_with_a_seconds_budget_is_one_line(tiny_overrides, tmp_path):
    from maskbench.train.pretrain import run_pretrain

    with pytest.raises(MaskbenchError, match="mask_schedule follows the run's steps"):
        run_pretrain(load_config(tiny_overrides + ["corruption=gpt_bert", "train.budget_unit=seconds",
                                                   "train.budget=2", f"run.dir={tmp_path / 'r'}"]))


def test_it_fits_the_encoder_only(tiny_overrides):
    with pytest.raises(MaskbenchError, match="does not fit arch=encoder_decoder"):
        load_config(tiny_overrides + ["corruption=gpt_bert", "arch=encoder_decoder"])
