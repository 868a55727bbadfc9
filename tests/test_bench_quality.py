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
