"""The quality-per-second race (benchmarks/bench_quality.py) on a tiny budget: every racer trains on the same
batches to the same step, is read at equal steps and equal seconds, and the count baselines are sane."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"


def _bench():
    import sys

    if "bench_quality" not in sys.modules:  # its dataclasses look their module up by name
        spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
        sys.modules["bench_quality"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["bench_quality"])
    return sys.modules["bench_quality"]


def test_the_race_on_a_tiny_budget(tiny_overrides, tmp_path, capsys):
    over = [o for o in tiny_overrides if not o.startswith(("experiment=", "runtime."))]
    args = ["--experiment", "debug", "--steps", "4", "--eval-every", "2", "--schedule", "20", "--val-blocks", "4",
            "--threads", "1", "--out", str(tmp_path)]
    for o in over:
        args += ["--override", o]
    out = _bench().main(args)
    printed = capsys.readouterr().out
    assert set(out["models"]) == {"maskbench", "maskbench_rope", "bert", "roformer"}
    for name, m in out["models"].items():
        steps = [p["step"] for p in m["evals"]]
        assert steps[:3] == [0, 2, 4]                     # every racer reaches the race's steps
        assert m["at_step"]["step"] == 4
        assert m["at_seconds"]["seconds"] <= out["equal_seconds"] + 1e-6
        assert all(0.0 <= p["masked_acc"] <= 1.0 and p["val_loss"] > 0 for p in m["evals"])
        assert m["evals"][-1]["val_loss"] < m["evals"][0]["val_loss"]  # they learn
    # the slowest racer stops at the shared time; a faster one may have gone further
    assert max(m["evals"][-1]["seconds"] for m in out["models"].values()) >= out["equal_seconds"] - 1e-6
    b = out["baselines"]
    assert b["labels"] > 0 and 0.0 <= b["unigram"] <= 1.0
    assert b["bigram"] == max(b["bigram_left"], b["bigram_right"])
    assert b["both_neighbours"] >= 0.0 and "goal" in out and out["goal"]["roformer_loss"] > 0
    assert json.loads((tmp_path / "race.json").read_text())["steps"] == 4
    assert (tmp_path / "race.png").stat().st_size > 10_000
    assert "leaves the plateau" in printed and "count baselines" in printed


def test_overrides_that_change_the_batches_are_refused(tiny_overrides):
    over = [o for o in tiny_overrides if not o.startswith(("experiment=", "runtime."))]
    args = ["--experiment", "debug", "--steps", "2", "--maskbench-override", "train.batch_size=4"]
    for o in over:
        args += ["--override", o]
    with pytest.raises(SystemExit):
        _bench().main(args)


@pytest.mark.parametrize("args, needle", [
    (["--eval-every", "0"], "argument --eval-every: 0 is below 1"),        # the race looped forever
    (["--eval-every", "-1"], "argument --eval-every: -1 is below 1"),      # likewise
    (["--steps", "0"], "argument --steps: 0 is below 1"),                  # ZeroDivisionError after the race
    (["--steps", "-3"], "argument --steps: -3 is below 1"),
    (["--steps", "abc"], "argument --steps: 'abc' is not a whole number"),
    (["--threads", "0"], "argument --threads: 0 is below 1"),              # torch's RuntimeError
    (["--val-blocks", "-1"], "argument --val-blocks: -1 is below 0"),      # torch.linspace's RuntimeError
    (["--models", "bert,bert"], "names a model twice"),                     # raced one model twice
    (["--models", "maskbench,"], "unknown models ['']"),
    (["--override", "model.n_heads=0"], "error: model.n_heads=0 must be an integer >= 1"),  # a traceback
    (["--experiment", "nope"], "error: unknown experiment 'nope'"),
    (["--hf-override", "model.d_model=33"], "model.d_model=33 is not divisible by model.n_heads"),
])
def test_bad_arguments_are_one_line_before_any_work(args, needle, capsys):
    with pytest.raises(SystemExit) as stop:
        _bench().main(["--experiment", "debug", *args])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_an_out_that_is_a_file_is_refused_before_the_race(tmp_path, capsys):
    f = tmp_path / "race.txt"
    f.write_text("")
    with pytest.raises(SystemExit) as stop:  # was FileExistsError after every model had raced
        _bench().main(["--experiment", "debug", "--out", str(f)])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and f"--out {f} is a file" in err and len(err.splitlines()) == 1, err
