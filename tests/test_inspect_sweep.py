"""fill / probe on tiny checkpoints of both architectures, and sweep grids that resume."""

import json
import shutil

import pytest
import torch

from maskbench.config import load_config
from maskbench.errors import MaskbenchError
from maskbench.inspect.fill import fill_encoder, generate, infilled_spans
from maskbench.inspect.loading import load_checkpoint
from maskbench.inspect.probe import DEFAULT_SENTENCES, cosine_matrix, read_sentences, sense_summary, word_vectors
from maskbench.train.pretrain import run_pretrain
from maskbench.train.sweep import expand_grid, run_sweep


@pytest.fixture(scope="module")
def checkpoints(tiny_overrides, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    out = {}
    for arch, corruption in (("encoder", "bert_mlm"), ("encoder_decoder", "bart_infill")):
        cfg = load_config(tiny_overrides + [f"arch={arch}", f"corruption={corruption}", f"run.dir={root / arch}",
                                            "train.max_steps=4"])
        out[arch] = run_pretrain(cfg)
    return out


def test_fill_encoder_top_k(checkpoints):
    m = load_checkpoint(checkpoints["encoder"])
    rows = fill_encoder(m, "the river [MASK] north of the [MASK] .", top_k=3)
    assert len(rows) == 2 and all(len(r) == 3 for r in rows)
    for row in rows:
        assert all(not tok.startswith("[") and i not in m.vocab.special_ids for tok, i, _ in row)  # never special
        probs = [p for _, _, p in row]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    with pytest.raises(MaskbenchError, match="no \\[MASK\\]"):
        fill_encoder(m, "no blanks here", 3)


def test_fill_encoder_decoder_generates(checkpoints):
    m = load_checkpoint(checkpoints["encoder_decoder"])
    ids = m.tok.encode("the city has a river", add_special_tokens=False).ids
    greedy = generate(m, ids + [m.vocab.mask], beam=1, max_extra=4)
    beam = generate(m, ids + [m.vocab.mask], beam=2, max_extra=4)
    assert 0 < len(greedy) <= len(ids) + 5 and 0 < len(beam) <= len(ids) + 5
    assert m.vocab.mask not in greedy and m.vocab.pad not in greedy


def test_infilled_spans_marks_new_tokens():
    assert infilled_spans([5, 4, 7], [5, 9, 9, 7], mask_id=4) == [False, True, True, False]


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
def test_probe_vectors_and_summary(checkpoints, arch):
    m = load_checkpoint(checkpoints[arch])
    rows = read_sentences(DEFAULT_SENTENCES)
    assert {s for s, _ in rows} == {"fruit", "company"}
    v = word_vectors(m, [t for _, t in rows], "apple")
    assert v.shape == (len(rows), m.cfg.model.d_model)
    sim = cosine_matrix(v)
    assert torch.allclose(sim.diagonal(), torch.ones(len(rows)), atol=1e-5)
    s = sense_summary(sim, [s for s, _ in rows])
    assert -1 <= s["across_sense"] <= 1 and s["gap"] == pytest.approx(s["within_sense"] - s["across_sense"], abs=1e-3)
    # The same word in different sentences gets different vectors (unlike the input embedding).
    assert float(sim.min()) < 0.999


def test_probe_needs_the_word(checkpoints):
    m = load_checkpoint(checkpoints["encoder"])
    with pytest.raises(MaskbenchError, match="does not occur"):
        word_vectors(m, ["the city has a river"], "apple")


def test_grid_expansion():
    grid = expand_grid(["corruption=bert_mlm,bart_infill", "arch=encoder_decoder", "seed=1,2"])
    assert grid == [["corruption=bert_mlm", "arch=encoder_decoder", "seed=1"],
                    ["corruption=bert_mlm", "arch=encoder_decoder", "seed=2"],
                    ["corruption=bart_infill", "arch=encoder_decoder", "seed=1"],
                    ["corruption=bart_infill", "arch=encoder_decoder", "seed=2"]]


def test_interrupted_sweep_finishes_only_missing_runs(tiny_overrides, tmp_path):
    over = tiny_overrides + ["arch=encoder_decoder", "corruption=bart_infill,t5_span", "train.max_steps=4",
                             f"sweep.dir={tmp_path / 'sw'}"]
    root = run_sweep(over)
    runs = sorted((root / "pretrain").iterdir())
    assert len(runs) == 2 and all((r / "summary.json").exists() for r in runs)
    stamps = {r.name: (r / "summary.json").stat().st_mtime_ns for r in runs}
    # Simulate a kill during the second run: its final checkpoint and summary never got written.
    shutil.rmtree(runs[1] / "checkpoints" / "final")
    (runs[1] / "summary.json").unlink()
    run_sweep(over)
    assert (runs[0] / "summary.json").stat().st_mtime_ns == stamps[runs[0].name]  # untouched
    assert (runs[1] / "summary.json").exists()
    assert json.loads((runs[1] / "summary.json").read_text())["steps"] == 4
    assert (root / "report" / "report.md").exists()


def test_sweep_refuses_one_run_dir_for_many_runs(tiny_overrides, tmp_path):
    import pytest

    from maskbench.errors import MaskbenchError
    from maskbench.train.sweep import run_sweep

    with pytest.raises(MaskbenchError, match="give sweep.dir="):
        run_sweep(tiny_overrides + ["corruption=bert_mlm,span_mlm", f"run.dir={tmp_path / 'one'}"])
    assert not (tmp_path / "one").exists()  # refused before anything was written


def test_interrupted_sweep_says_to_rerun_the_sweep(tiny_overrides, tmp_path, monkeypatch):
    import pytest

    import maskbench.train.pretrain as pretrain
    from maskbench.errors import MaskbenchError, RunInterrupted
    from maskbench.train.sweep import run_sweep

    def stopped(cfg, **kw):
        raise RunInterrupted(3, tmp_path / "sw" / "somewhere")  # a typed interruption, not a message to parse

    monkeypatch.setattr(pretrain, "run_pretrain", stopped)
    with pytest.raises(MaskbenchError) as info:
        run_sweep(tiny_overrides + ["corruption=bert_mlm,span_mlm", f"sweep.dir={tmp_path / 'sw'}"])
    assert str(info.value).startswith("sweep interrupted at step 3 (checkpoint saved): run the same `maskbench sweep`")
    assert "train.resume" not in str(info.value)
