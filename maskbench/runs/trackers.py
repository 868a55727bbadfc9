"""Experiment trackers beside metrics.jsonl: `run.loggers=[jsonl,tensorboard,wandb,mlflow]`.

metrics.jsonl is always written (the run folder's own record; resume and reports read it). Each other
tracker receives the same scalars, named `SPLIT/KEY` (`train/loss`, `val/mlm_acc`, `eval/accuracy`)
at the event's step, and the composed config as run parameters:

  tensorboard  event files in RUN/tensorboard/ (the config as text)      extra: maskbench[tensorboard]
  wandb        project `run.project`, run name = the run folder's name;  extra: maskbench[wandb]
               WANDB_MODE=offline works without network (files in RUN/wandb/)
  mlflow       experiment `run.project`; $MLFLOW_TRACKING_URI, else a    extra: maskbench[mlflow]
               file store in RUN/mlruns (no server, no network)

A tracker whose package is missing fails before the run starts, with its install line (maskbench/config/schema/trackers.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from maskbench.config.schema.trackers import TRACKERS
from maskbench.config.schema import Config

_NOT_SCALARS = ("step", "split")


def _scalars(event: dict) -> tuple[int, dict[str, float]]:
    split = event.get("split", "train")
    values = {f"{split}/{k}": float(v) for k, v in event.items()
              if k not in _NOT_SCALARS and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return int(event.get("step", 0)), values


def _flat(d: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)
    return out


def _require(name: str):
    """Import a tracker's module, or fail in one line with its install hint."""
    from maskbench.optional import require

    t = TRACKERS[name]
    return require(t.writer, f"run.loggers=[{name}]", name, t.package)


class TensorBoard:
    def __init__(self, run_dir: Path, config: dict, config_yaml: str):
        tb = _require("tensorboard")
        self.writer = tb.SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        self.writer.add_text("config", "```\n" + config_yaml + "\n```", 0)

    def log(self, step: int, values: dict) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        self.writer.close()


class WandB:
    def __init__(self, run_dir: Path, config: dict, project: str):
        wandb = _require("wandb")
        os.environ.setdefault("WANDB_SILENT", "true")
        # One W&B run per run folder, so a resumed run continues the same W&B run.
        run_id = "mb-" + hashlib.sha256(str(run_dir).encode()).hexdigest()[:12]
        try:
            self.run = wandb.init(project=project, name=run_dir.name, dir=str(run_dir), config=config, id=run_id,
                                  resume="allow", reinit="finish_previous")
        except Exception as exc:  # no key, no network, a refused project: wandb's own types, one line here
            from maskbench.errors import MaskbenchError, safe_reason

            raise MaskbenchError(f"W&B could not start a run ({safe_reason(exc, 160)}): check `wandb login` and the "
                                 f"network, or log offline with WANDB_MODE=offline") from None

    def log(self, step: int, values: dict) -> None:
        self.run.log(values, step=step)

    def close(self) -> None:
        self.run.finish()


class MLflow:
    def __init__(self, run_dir: Path, config: dict, project: str):
        mlflow = _require("mlflow")
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "mlruns").as_uri()
        if uri.startswith("file:"):  # MLflow 3 keeps its file store only on request: no server, no network
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.tracking.MlflowClient(uri)
        exp = self.client.get_experiment_by_name(project)
        exp_id = exp.experiment_id if exp else self.client.create_experiment(project)
        self.run_id = self.client.create_run(exp_id, run_name=run_dir.name).info.run_id
        from mlflow.entities import Param

        params = [Param(k[:250], v[:6000]) for k, v in _flat(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def log(self, step: int, values: dict) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def open_trackers(cfg: Config, run_dir: Path) -> list:
    """The trackers `run.loggers` asks for (jsonl is metrics.jsonl itself)."""
    from maskbench.config import as_dict, to_yaml

    names = list(cfg.run.loggers or ["jsonl"])
    config = as_dict(cfg)
    project = cfg.run.project or "maskbench"
    out = []
    for name in names:
        if name == "tensorboard":
            out.append(TensorBoard(run_dir, config, to_yaml(cfg)))
        elif name == "wandb":
            out.append(WandB(run_dir, config, project))
        elif name == "mlflow":
            out.append(MLflow(run_dir, config, project))
    return out


def forward(trackers: list, event: dict) -> None:
    if trackers:
        step, values = _scalars(event)
        for t in trackers:
            t.log(step, values)
