"""UL2's mixture of denoisers: each denoiser matches its spec measured alone, the mixture draws them at their
weights, every source starts with its mode token (a reserved sentinel no span uses), no special is touched."""

import json

import pytest
import torch
from typer.testing import CliRunner

from maskbench.cli import app
from maskbench.config import load_config
from maskbench.corruption.keyed_random import example_keys
from maskbench.corruption.registry import build_corruption
from maskbench.corruption.ul2 import mode_ids
from maskbench.errors import MaskbenchError

UL2 = ["corruption=ul2", "arch=encoder_decoder"]


def test_each_denoiser_alone_and_the_mixture_shares(tiny_overrides):
    res = CliRunner().invoke(app, ["corrupt", *tiny_overrides, *UL2, "--stats", "--json", "--blocks", "400"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    C = 30  # content tokens of a block here (data.seq_len=32)
    for d in stats["per_denoiser"]:
        mode, mu, rate = d["denoiser"]
        assert d["specials_touched"] == 0
        if mode == "S":  # the continuation: 1 .. 2 x rate x C tokens, uniform
            assert d["span_count_mean"] == 1 and abs(d["span_len_mean"] - (1 + round(2 * rate * C)) / 2) < 0.6
        else:  # T5's rule: round(rate x C) noise tokens in round(noise / mu) spans (at least one)
            noise = round(rate * C)
            assert d["selected_frac"] == pytest.approx(noise / C, abs=1e-4)
            assert d["span_count_mean"] == max(1, min(round(noise / mu), C - noise))
    n = stats["blocks"]
    for d in stats["per_denoiser"]:  # drawn at its weight: 4 standard errors
        p = d["weight_share"]
        assert abs(d["share"] - p) < 4 * (p * (1 - p) / n) ** 0.5 + 1e-9, d


def test_sources_open_with_their_mode_token_and_spans_never_use_it(tiny_setup, tiny_overrides):
    cfg, cache, tok, vocab, store = tiny_setup
    ul2 = load_config(tiny_overrides + UL2).corruption
    corruption = build_corruption(ul2, "encoder_decoder", vocab)
    idx = torch.arange(min(len(store), 256))
    out = corruption(store.get(idx), example_keys(0, 0, idx))
    modes = mode_ids(vocab)
    assert set(modes.values()) == {vocab.sentinel0 + vocab.n_sentinels - k for k in (3, 2, 1)}
    drew = out.diag.modes
    want = torch.tensor([modes[ul2.denoisers[int(j)][0]] for j in drew])
    assert torch.equal(out.input_ids[:, 1], want)  # [BOS] then the mode token
    body = torch.cat([out.input_ids[:, 2:], out.labels.clamp_min(0)], 1)
    assert not torch.isin(body, torch.tensor(list(modes.values()))).any()  # no span sentinel is a mode token


def test_ul2_config_errors(tiny_overrides):
    with pytest.raises(MaskbenchError, match="one weight per denoiser"):
        load_config(tiny_overrides + UL2 + ["corruption.weights=[1,1]"])
    with pytest.raises(MaskbenchError, match=r"write \[MODE, MEAN_SPAN, RATE\]"):
        load_config(tiny_overrides + UL2 + ["corruption.denoisers=[[Q,3,0.15]]", "corruption.weights=[1]"])
    with pytest.raises(MaskbenchError, match="does not fit arch=encoder"):
        load_config(tiny_overrides + ["corruption=ul2", "arch=encoder"])


def test_ul2_pretrains(tiny_overrides, tmp_path):
    from maskbench.runs.rundir import read_metrics
    from maskbench.train.pretrain import run_pretrain

    run = run_pretrain(load_config(tiny_overrides + UL2 + ["train.max_steps=20", f"run.dir={tmp_path / 'r'}"]))
    losses = [e["loss"] for e in read_metrics(run) if e["split"] == "train"]
    assert all(l == l for l in losses) and losses[-1] < losses[0]  # finite, and learning
