"""The names of a run folder's files, in one place, and the small readers and writers every command shares:

  RUN/config.yaml  command.txt  env.json  tokenizer.json   what ran, how, where (written at the start)
  RUN/metrics.jsonl                                        one JSON event per line (appended, kill-safe)
  RUN/labels.json                                          a fine-tuning's label names, in head order
  RUN/eval_units.json                                      per-example scores of the last evaluation (intervals)
  RUN/summary.json                                         written last: its presence means "done"
  RUN/checkpoints/step-000200/  RUN/checkpoints/final/     each with model.safetensors, state.json, ...

Outside maskbench/runs/ no module spells one of these names; it asks here.
"""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.files import write_atomic

CONFIG = "config.yaml"
COMMAND = "command.txt"
ENV = "env.json"
TOKENIZER = "tokenizer.json"
METRICS = "metrics.jsonl"
EVAL_UNITS = "eval_units.json"
SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
FINAL = "final"
STATE = "state.json"          # in a checkpoint: step, counters, checksums (written last)
TASK_RECORD = "task.json"     # in a fine-tuning checkpoint: what rebuilds the task model
LABELS = "labels.json"        # a fine-tuning run's label names, in head order


def summary_path(run) -> Path:
    return Path(run) / SUMMARY


def is_done(run) -> bool:
    return summary_path(run).exists()


def read_summary(run) -> dict:
    """A run's summary.json; a damaged one is one line (a run killed while writing it, or edited)."""
    try:
        summary = json.loads(summary_path(run).read_text())
    except (OSError, ValueError) as exc:
        raise MaskbenchError(f"{summary_path(run)} is unreadable ({str(exc)[:80]}): remove it and run the same "
                             f"command with train.resume=true to write it again") from None
    if not isinstance(summary, dict):
        raise MaskbenchError(f"{summary_path(run)} is not a run summary: remove it and run the same command with "
                             f"train.resume=true to write it again")
    return summary


def write_summary(run, summary: dict) -> None:
    write_atomic(summary_path(run), json.dumps(summary, indent=1))


def metrics_path(run) -> Path:
    return Path(run) / METRICS


def config_path(run) -> Path:
    return Path(run) / CONFIG


def eval_units_path(run) -> Path:
    return Path(run) / EVAL_UNITS


def write_eval_units(run, units: dict) -> None:
    write_atomic(eval_units_path(run), json.dumps(units))


def checkpoint_folder(run, step: int | None = None) -> Path:
    """RUN/checkpoints/final (step None) or RUN/checkpoints/step-NNNNNN."""
    return Path(run) / CHECKPOINTS / (FINAL if step is None else f"step-{step:06d}")


def is_checkpoint(folder) -> bool:
    """A whole checkpoint folder (its state.json is written last)."""
    return (Path(folder) / STATE).exists()


def checkpoint_step(folder) -> int:
    return int(json.loads((Path(folder) / STATE).read_text())["step"])


def write_metadata(run, config_yaml: str, command: str, env: dict) -> None:
    """What ran, how and where: config.yaml, command.txt, env.json."""
    write_atomic(Path(run) / CONFIG, config_yaml)
    write_atomic(Path(run) / COMMAND, command + "\n")
    write_atomic(Path(run) / ENV, json.dumps(env, indent=1))
