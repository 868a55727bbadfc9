"""A run folder: the single place a run writes to (absolute paths; the working directory never changes).

outputs/<run-name>/
  config.yaml  command.txt  env.json  metrics.jsonl  summary.json
  checkpoints/step-000200/  checkpoints/final/   plots/
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from maskbench.files import write_atomic
from maskbench.runs import layout
from maskbench.config.schema import FinetuneConfig, PretrainConfig


class RunDir:
    """One run folder, the single place that names run folders and says what state they are in:
    missing (nothing there), partial (something there, no summary.json: interrupted or running), or done
    (summary.json, written last). `claim` is the one meaning of train.resume for every command: a partial
    folder is continued with train.resume=true and never overwritten without it. `resumes` is the one rule
    of the commands that run many runs (compare, sweep): each of their runs is skipped if done and continued
    if partial, so the same command run again does only what is missing."""

    def __init__(self, path):
        self.path = Path(str(path)).expanduser().resolve()

    @classmethod
    def for_pretraining(cls, cfg: PretrainConfig) -> "RunDir":
        from maskbench.config import config_hash

        if cfg.run.dir:
            return cls(cfg.run.dir)
        name = cfg.run.name if cfg.run.name else \
            f"{cfg.corruption.name}-{cfg.arch.name}-{cfg.model.name}-s{cfg.seed}-{config_hash(cfg)}"
        return cls(Path(cfg.run.root) / name)

    @classmethod
    def for_finetuning(cls, cfg: FinetuneConfig, backbone_label: str) -> "RunDir":
        from maskbench.config import config_hash

        if cfg.run.dir:
            return cls(cfg.run.dir)
        return cls(Path(cfg.run.root) / f"ft-{cfg.task.name}-{backbone_label}-s{cfg.seed}-{config_hash(cfg)}")

    @classmethod
    def for_comparison(cls, cfg: FinetuneConfig, pretrained_name: str) -> "RunDir":
        from maskbench.config import config_hash

        if cfg.run.dir:
            return cls(cfg.run.dir)
        return cls(Path(cfg.run.root) / f"compare-{cfg.task.name}-{pretrained_name}-{config_hash(cfg)}")

    @classmethod
    def for_task_comparison(cls, cfg: FinetuneConfig, overrides: list[str]) -> "RunDir":
        """compare.tasks=[...]: one folder holding a comparison per task (run.dir, else compare-tasks-<hash>)."""
        if cfg.run.dir:
            return cls(cfg.run.dir)
        tag = hashlib.sha256(" ".join(sorted(overrides)).encode()).hexdigest()[:8]
        return cls(Path(str(cfg.run.root)) / f"compare-tasks-{tag}")

    @property
    def status(self) -> str:
        from maskbench.runs.lock import has_content

        if layout.is_done(self.path):
            return "done"
        return "partial" if has_content(self.path) else "missing"

    @staticmethod
    def resumes(resume: bool, continue_existing: bool) -> bool:
        """Whether a run continues what its folder holds: the user asked (train.resume=true), or the run is one of
        a command that runs many (`continue_existing`: compare, sweep)."""
        return bool(resume or continue_existing)

    def refuse_overwrite(self, resume: bool, status: str | None = None) -> None:
        """A folder with anything in it is continued with train.resume=true, never overwritten without it
        (`status`: one taken earlier, so that every rank of a distributed run decides on the same one)."""
        if (status or self.status) != "missing" and not resume:
            raise _exists_error(self.path)

    def claim(self, resume: bool) -> None:
        """refuse_overwrite, then make the folder."""
        self.refuse_overwrite(resume)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_metadata(self, config_yaml: str, command: str, env: dict) -> None:
        layout.write_metadata(self.path, config_yaml, command, env)

    def write_summary(self, summary: dict) -> None:
        layout.write_summary(self.path, summary)


class SweepDir:
    """A sweep's folder and every run folder in it: pretrain/<run>, finetune/<task>/<pretraining run> and
    finetune/<task>/scratch-<arch>-<model>-s<seed> (one scratch baseline per task and (arch, model, seed)),
    each with -f<seed> where the sweep fine-tunes with several seeds (sweep.finetune_seeds),
    jobs/<point> (submitit's logs), report/."""

    def __init__(self, path):
        self.path = Path(str(path)).expanduser().resolve()

    @classmethod
    def for_grid(cls, cfg: PretrainConfig, pretraining_overrides: list[str]) -> "SweepDir":
        """sweep.dir, else run.root/sweep-<hash of the pretraining grid>: adding tasks later reuses the runs."""
        if cfg.sweep.dir:
            return cls(cfg.sweep.dir)
        grid_id = hashlib.sha256(" ".join(sorted(pretraining_overrides)).encode()).hexdigest()[:8]
        return cls(Path(cfg.run.root) / f"sweep-{grid_id}")

    @property
    def pretrain_root(self) -> Path:
        return self.path / "pretrain"

    def finetuning(self, task: str, pretraining: Path, finetune_seed: int | None = None) -> RunDir:
        """`finetune_seed`: set where sweep.finetune_seeds gives several seeds (the folder then ends -f<seed>)."""
        return RunDir(self.path / "finetune" / str(task) / (Path(pretraining).name + _seed_suffix(finetune_seed)))

    def scratch(self, task: str, cfg: PretrainConfig, finetune_seed: int | None = None) -> RunDir:
        name = f"scratch-{cfg.arch.name}-{cfg.model.name}-s{cfg.seed}" + _seed_suffix(finetune_seed)
        return RunDir(self.path / "finetune" / str(task) / name)

    def jobs(self, name: str = "") -> Path:
        return self.path / "jobs" / name if name else self.path / "jobs"

    @property
    def report(self) -> Path:
        return self.path / "report"


def _seed_suffix(finetune_seed: int | None) -> str:
    return "" if finetune_seed is None else f"-f{finetune_seed}"


def _exists_error(path: Path):
    from maskbench.errors import MaskbenchError

    return MaskbenchError(f"run folder {path} already exists: add train.resume=true to continue it, "
                          f"or give run.dir=NEW_FOLDER for a fresh run")


class MetricsLog:
    """metrics.jsonl: one JSON object per event. Appends and flushes each line (kill-safe)."""

    def __init__(self, path: Path, enabled: bool = True, trackers: list | None = None):
        self.path, self.enabled = path, enabled
        self.trackers = trackers or []  # run.loggers beyond jsonl (maskbench/runs/trackers.py)

    def truncate_after(self, step: int) -> None:
        """On resume, drop events logged after the checkpoint we resume from (they will be redone)."""
        if not self.enabled or not self.path.exists():
            return
        keep = [json.dumps(e) for e in _parse_events(self.path) if e.get("step", 0) <= step]  # torn line dropped
        write_atomic(self.path, "".join(line + "\n" for line in keep))

    def log(self, **event) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
        if self.trackers:
            from maskbench.runs.trackers import forward

            forward(self.trackers, event)

    def close(self) -> None:
        for t in self.trackers:
            t.close()
        self.trackers = []


def _parse_events(path: Path) -> list[dict]:
    """The events of a metrics.jsonl; a line that is not a JSON object (a write torn by a kill) is skipped."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
    return out


def read_metrics(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    return _parse_events(path)


def env_info(seed: int, device: str) -> dict:
    import torch

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except Exception:
        rev = None
    return {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform(),
            "device": device, "threads": torch.get_num_threads(), "git_revision": rev, "seed": seed,
            "pid": os.getpid(), **numeric_environment(), "argv": sys.argv}


def numeric_environment() -> dict:
    """What decides the last bits of float results besides the seed (docs/reproducibility.md): the CPU and the
    instruction set torch's kernels chose, the BLAS/oneDNN build, and the thread count (a matmul split over
    other threads sums in another order)."""
    import torch

    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or None
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")),
                None)
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None
    return {"cpu": cpu, "cpu_capability": capability, "blas": blas, "mkldnn": torch.backends.mkldnn.is_available(),
            "interop_threads": torch.get_num_interop_threads(),
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}
