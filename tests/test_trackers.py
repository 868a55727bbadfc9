"""run.loggers: TensorBoard event files, a W&B offline run and an MLflow file store hold the same scalars as
metrics.jsonl, and the config; offline, no network."""

from __future__ import annotations

import glob

import pytest

from maskbench.config import load_config
from maskbench.errors import MaskbenchError
from maskbench.runs.rundir import read_metrics
from maskbench.train.pretrain import run_pretrain


def _expected(run):
    """{(tag, step): value} from metrics.jsonl, as the trackers name them."""
    out = {}
    for e in read_metrics(run):
        for k, v in e.items():
            if k not in ("step", "split") and isinstance(v, (int, float)):
                out[(f"{e['split']}/{k}", e["step"])] = float(v)
    return out


@pytest.fixture(scope="module")
def tracked(tiny_overrides, tmp_path_factory):
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path_factory.mktemp('t') / 'run'}",
                                                     "run.loggers=[jsonl,tensorboard,wandb,mlflow]"]))
    mp.undo()
    return run


def test_tensorboard_scalars_equal_metrics_jsonl(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tracked / "tensorboard"))
    acc.Reload()
    got = {(tag, ev.step): ev.value for tag in acc.Tags()["scalars"] for ev in acc.Scalars(tag)}
    want = _expected(tracked)
    assert set(got) == set(want)
    assert all(got[k] == pytest.approx(want[k], rel=1e-6) for k in want)
    assert "val/loss" in acc.Tags()["scalars"] and "train/lr" in acc.Tags()["scalars"]


def test_wandb_offline_run_holds_metrics_and_config(tracked):
    from wandb_reader import history_and_config

    (path,) = glob.glob(str(tracked / "wandb" / "offline-run-*" / "run-*.wandb"))
    history, config = history_and_config(path)
    got = {(k, row["_step"]): v for row in history for k, v in row.items() if not k.startswith("_")}
    want = _expected(tracked)
    assert set(got) == set(want)
    assert all(got[k] == pytest.approx(want[k], rel=1e-6) for k in want)
    assert config["train"]["max_steps"] == 20 and config["corruption"]["name"] == "bert_mlm"


def test_mlflow_file_store_holds_metrics_and_config(tracked, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient((tracked / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("maskbench").experiment_id])
    want = _expected(tracked)
    got = {(k, m.step): m.value for k in {t for t, _ in want} for m in client.get_metric_history(run.info.run_id, k)}
    assert got == pytest.approx(want, rel=1e-6)
    assert run.data.params["train.max_steps"] == "20" and run.data.params["corruption.name"] == "bert_mlm"
    assert run.info.status == "FINISHED"


def test_unknown_or_missing_logger_is_one_line(tiny_overrides, monkeypatch):
    with pytest.raises(MaskbenchError, match="run.loggers"):
        load_config(tiny_overrides + ["run.loggers=[jsonl,neptune]"])
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(MaskbenchError, match=r"pip install 'maskbench\[wandb\]'"):
        load_config(tiny_overrides + ["run.loggers=[wandb]"])
