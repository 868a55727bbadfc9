"""Masking-rate schedules: the rate follows the schedule, is logged per step, is what the corruption
measurably applies at that step, and a resumed run corrupts exactly as an uninterrupted one."""

import dataclasses
import json
import shutil

import pytest

from maskbench.config import load_config
from maskbench.corruption.schedule import rate_at
from maskbench.errors import MaskbenchError
from maskbench.runs.rundir import read_metrics
from maskbench.train.pretrain import run_pretrain

LINEAR = ["corruption.mask_schedule=linear", "corruption.mask_prob=0.4", "corruption.mask_prob_end=0.15"]


def test_rates_of_each_schedule():
    from maskbench.config.schema.corruption import BertMasking, T5Span

    cfg = BertMasking(mask_prob=0.3, mask_schedule="linear", mask_prob_end=0.15)  # the objective names its rate
    assert [rate_at(cfg, s, 100) for s in (0, 50, 100, 200)] == pytest.approx([0.3, 0.225, 0.15, 0.15])
    assert rate_at(cfg, None, 100) == pytest.approx(0.15)  # validation and measuring: the end rate
    cos = dataclasses.replace(cfg, mask_schedule="cosine")
    assert [rate_at(cos, s, 100) for s in (0, 25, 50, 100)] == pytest.approx([0.3, 0.3 - 0.15 * 0.1464466, 0.225, 0.15])
    t5 = T5Span(family="t5", noise_density=0.5, mask_schedule="linear", mask_prob_end=0.1)
    assert rate_at(t5, 10, 20) == pytest.approx(0.3)
    const = BertMasking(mask_prob=0.15)
    assert rate_at(const, 7, 10) == 0.15


@pytest.mark.parametrize("over, needle", [
    (["corruption.mask_schedule=linear"], "needs corruption.mask_prob_end"),
    (["corruption.mask_schedule=step", "corruption.mask_prob_end=0.1"], "corruption.mask_schedule=step"),
    (["corruption=bart_permute", "arch=encoder_decoder", "corruption.mask_schedule=linear",
      "corruption.mask_prob_end=0.1"], None),
])
def test_schedule_config_errors(tiny_overrides, over, needle):
    if needle is None:  # bart_permute has a mask_prob (0): a schedule is allowed
        load_config(tiny_overrides + over)
        return
    with pytest.raises(MaskbenchError, match=needle):
        load_config(tiny_overrides + over)


def test_logged_rate_follows_the_schedule_and_resume_is_exact(tiny_overrides, tmp_path):
    over = tiny_overrides + LINEAR + ["train.max_steps=40", "train.log_every=1", "train.ckpt_every=20",
                                      "train.keep_checkpoints=2"]
    whole = run_pretrain(load_config(over + [f"run.dir={tmp_path / 'whole'}"]))
    train = [e for e in read_metrics(whole) if e["split"] == "train"]
    assert len(train) == 40
    for e in train:
        assert e["mask_rate"] == pytest.approx(0.4 - 0.25 * e["step"] / 40, abs=1e-6)
    # Cut back to step 20 (as a kill would leave it), then resume: every loss as in the uninterrupted run.
    cut = tmp_path / "cut"
    shutil.copytree(whole, cut)
    shutil.rmtree(cut / "checkpoints" / "final")
    shutil.rmtree(cut / "checkpoints" / "step-000040", ignore_errors=True)
    (cut / "summary.json").unlink()
    run_pretrain(load_config(over + [f"run.dir={cut}", "train.resume=true"]))
    key = lambda d: [(e["step"], e["split"], e["loss"], e.get("mask_rate")) for e in read_metrics(d)]  # noqa: E731
    assert key(cut) == key(whole)


@pytest.mark.parametrize("corruption, arch, extra, wanted", [
    ("bert_mlm", "encoder", ["corruption.mask_prob=0.4", "corruption.mask_prob_end=0.15"], (0.4, 0.275, 0.15)),
    # T5 noises round(rate x 30) tokens of these 30-token blocks: rates on that grid, so the spec is exact
    ("t5_span", "encoder_decoder", ["corruption.noise_density=0.4", "corruption.mask_prob_end=0.2"], (0.4, 0.3, 0.2)),
])
def test_measured_rate_at_a_step_matches_the_schedule(tiny_overrides, corruption, arch, extra, wanted):
    from typer.testing import CliRunner

    from maskbench.cli import app

    over = tiny_overrides + [f"corruption={corruption}", f"arch={arch}", "corruption.mask_schedule=linear",
                             "train.max_steps=1000", *extra]
    for step, want in zip((0, 500, 1000), wanted):
        res = CliRunner().invoke(app, ["corrupt", *over, "--stats", "--json", "--blocks", "1000", "--step", str(step)])
        assert res.exit_code == 0, res.output
        stats = json.loads(res.stdout.strip().splitlines()[-1])
        assert stats["mask_rate"] == pytest.approx(want)
        assert abs(stats["selected_frac"] - want) < 0.01, (step, stats["selected_frac"])
        assert stats["specials_touched"] == 0
