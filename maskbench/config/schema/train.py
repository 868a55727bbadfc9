"""Schema of the `train`, `runtime` and `run` groups: the optimisation schedule, what only changes
speed, and where a run is written and logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option


@dataclass(frozen=True)
class TrainConfig:
    name: str = "custom"
    max_steps: int = option(1000, low=1)
    batch_size: int = option(32, low=1)
    lr: float = option(1e-3, above=0.0)
    weight_decay: float = option(0.01, low=0.0)
    betas: List[float] = option(factory=lambda: [0.9, 0.98])
    warmup_steps: Any = option(0.06, number=True, low=0.0, hint="a count, or a fraction of max_steps when < 1")
    schedule: str = option("linear", choices=("linear", "cosine", "constant"))
    grad_clip: float = option(1.0, low=0.0, hint="0 turns clipping off")
    eval_every: int = option(100, low=1)
    ckpt_every: int = option(200, low=1)
    keep_checkpoints: int = option(2, low=0)
    log_every: int = option(10, low=1)
    resume: bool = False
    budget: Any = option(None, number=True, above=0.0, hint="or null to use train.max_steps")
    budget_unit: str = option("steps", choices=("steps", "tokens", "flops", "seconds"))

    @property
    def warmup(self) -> int:
        """Warm-up steps: warmup_steps itself, or that fraction of max_steps when it is below 1."""
        w = self.warmup_steps
        return int(round(w * self.max_steps)) if w < 1 else int(w)

    @property
    def seconds_budget(self) -> float | None:
        """The wall-clock budget in seconds (train.budget_unit=seconds), else None (train to max_steps)."""
        return float(self.budget) if self.budget_unit == "seconds" and self.budget is not None else None

    def check(self) -> None:
        if self.budget_unit == "seconds" and self.budget is None:
            raise MaskbenchError("train.budget_unit=seconds needs the budget: add train.budget=SECONDS (e.g. 600)")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise MaskbenchError(f"train.betas={list(self.betas)} must be two numbers in [0, 1), e.g. [0.9,0.98]")


@dataclass(frozen=True)
class FinetuneTrainConfig(TrainConfig):
    # With task.train_size=n of N examples: max_steps x sqrt(n / N) steps, at least this many.
    subset_min_steps: int = option(50, low=1)
    # ... and at least this many passes over the subset (the sqrt rule alone starved mid-sized subsets).
    subset_min_epochs: float = option(5.0, low=0.0)

    def check(self) -> None:
        super().check()
        # A fine-tuning stops by its steps or its clock; tokens and FLOPs are matched across pretraining objectives
        # (train/pretrain.py resolve_budget), which a fine-tuning's variable-length batches do not measure.
        if self.budget is not None and self.budget_unit in ("tokens", "flops"):
            raise MaskbenchError(f"train.budget_unit={self.budget_unit} is a pretraining budget: a fine-tuning "
                                 f"trains train.max_steps steps, or a budget in steps or seconds "
                                 f"(train.budget_unit=steps|seconds)")

    @property
    def steps(self) -> int:
        """The steps to train: train.budget when it is counted in steps, else train.max_steps."""
        if self.budget is not None and self.budget_unit == "steps":
            return max(1, int(round(float(self.budget))))
        return self.max_steps


@dataclass(frozen=True)
class RuntimeConfig:
    name: str = "custom"
    device: str = "auto"
    precision: str = option("auto", choices=("auto", "fp32", "bf16"))
    threads: Optional[int] = option(None, low=1, hint="or null for torch's default")
    compile: bool = False
    tf32: bool = True
    prefetch: Optional[bool] = None  # null: a background thread only where it has a core of its own
    progress: bool = True

    def check(self) -> None:
        import re

        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", self.device):
            raise MaskbenchError(f"runtime.device={self.device} is unknown: choose auto, cpu, cuda or cuda:N")


@dataclass(frozen=True)
class RunConfig:
    dir: Optional[str] = None
    root: str = "outputs"
    name: Optional[str] = None
    loggers: List[str] = option(factory=lambda: ["jsonl"])
    project: str = "maskbench"

    def check(self) -> None:
        from maskbench.config.schema.trackers import LOGGERS, check_trackers_installed

        if any(x not in LOGGERS for x in self.loggers):
            raise MaskbenchError(f"run.loggers={list(self.loggers)} must be a list of {', '.join(LOGGERS)}, "
                                 f"e.g. run.loggers=[jsonl,tensorboard]")
        check_trackers_installed(self.loggers)
        if self.name and (len(self.name) > 200 or "/" in self.name):  # one folder name, within file-system limits
            raise MaskbenchError(f"run.name='{self.name[:40]}{'…' if len(self.name) > 40 else ''}' must be one folder name of at most 200 characters "
                                 f"(without '/'): for a path, use run.dir")
