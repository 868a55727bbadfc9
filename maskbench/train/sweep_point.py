"""One grid point of a sweep: its pretraining (skipped if done, resumed if partial), then its fine-tunings. The
sequential launcher (sweep.py) and the job launchers (launch.py, one point per job) both run it."""

from __future__ import annotations

import itertools
from pathlib import Path

from maskbench.config import load_config, with_changes
from maskbench.errors import InUse, MaskbenchError
from maskbench.runs.rundir import RunDir, SweepDir
from maskbench.config.schema import PretrainConfig


def finetune_overrides(cfg: PretrainConfig, task: str) -> list[str]:
    """sweep.finetune, then the task's own sweep.task_overrides (which win)."""
    return list(cfg.sweep.finetune) + list((cfg.sweep.task_overrides or {}).get(task, []))


def run_point(point: list[str], root: Path, overrides, runtime, console=None) -> str:
    """One grid point: its pretraining (skipped if done, resumed if partial), then its fine-tunings: every
    task once per fine-tuning seed (sweep.finetune_seeds, else the pretraining's seed), and the scratch twins."""
    from maskbench.train.finetune import resolve_init, run_finetune
    from maskbench.train.pretrain import run_pretrain

    sweep = SweepDir(root)
    cfg = load_config(point + [f"run.root={sweep.pretrain_root}"])
    run = RunDir.for_pretraining(cfg)
    run_dir = run.path
    if run.status != "done":  # (a done one is kept by run_pretrain too, after starting up)
        run_pretrain(cfg, command="maskbench sweep " + " ".join(overrides), console=console, continue_existing=True)
    seeds = cfg.sweep.finetune_seeds
    for task, ft_seed in itertools.product(cfg.sweep.tasks, seeds or [None]):
        seed = cfg.seed if ft_seed is None else ft_seed
        ft = load_config([f"task={task}", f"seed={seed}"] + finetune_overrides(cfg, task) + runtime, root="finetune")
        pre = resolve_init(with_changes(ft, init=str(run_dir)))
        jobs = [(sweep.finetuning(task, run_dir, ft_seed), pre)]
        if cfg.sweep.scratch:
            jobs.append((sweep.scratch(task, cfg, ft_seed), pre.scratch_twin()))
        for ft_run, backbone in jobs:
            try:
                run_finetune(ft, command="maskbench sweep " + " ".join(overrides), console=console,
                             backbone=backbone, run_dir=ft_run.path, continue_existing=True)
            except MaskbenchError as exc:
                # A scratch baseline is shared by the grid points of one (arch, model, seed): under a
                # parallel launcher another job may be training it right now, and it will finish it.
                if not (backbone.origin == "scratch" and isinstance(exc, InUse)):
                    raise
    return run_dir.name
