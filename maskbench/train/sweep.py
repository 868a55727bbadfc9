"""`maskbench sweep`: run a grid of pretraining runs one after another, each optionally followed by
fine-tuning, then write the report. Every run folder is named by its config, so re-running the same
command skips what is complete, resumes what was interrupted, and runs only what is missing."""

from __future__ import annotations

import itertools
from pathlib import Path

from rich.markup import escape

from maskbench.config import load_config, runtime_overrides
from maskbench.errors import MaskbenchError, RunInterrupted
from maskbench.runs.rundir import RunDir, SweepDir
from maskbench.train.sweep_point import finetune_overrides, run_point


def expand_grid(overrides: list[str]) -> list[list[str]]:
    """Hydra sweep syntax -> the list of override lists (cartesian product, in order)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise MaskbenchError(f"bad sweep override: {str(exc).splitlines()[0]}") from None
    axes = []
    for ov in parsed:
        key = ov.get_key_element()
        if ov.is_sweep_override():
            axes.append([f"{key}={v}" for v in ov.sweep_string_iterator()])
        else:
            axes.append([f"{key}={ov.get_value_element_as_str()}"])
    return [list(p) for p in itertools.product(*axes)]


def with_preset_grid(overrides: list[str]) -> list[str]:
    """Add the axes of `sweep.grid` (set by a preset) that the command line does not give itself."""
    plain = [o for o in overrides if "," not in o.partition("=")[2] or o.partition("=")[2].startswith("[")]
    preset_axes = list(load_config(plain).sweep.grid)
    given = {o.partition("=")[0] for o in overrides}
    return overrides + [a for a in preset_axes if a.partition("=")[0] not in given]


def run_sweep(overrides: list[str], console=None) -> Path:
    say = (lambda msg: console.print(msg)) if console else (lambda msg: None)
    overrides = with_preset_grid(overrides)
    grid = expand_grid(overrides)
    first = load_config(grid[0])
    if first.run.dir:  # every grid point would write into the same folder
        raise MaskbenchError(f"run.dir={first.run.dir} names one run folder but a sweep makes many: "
                             f"give sweep.dir={first.run.dir} instead")
    # The folder is named by the pretraining grid: adding fine-tuning tasks later reuses the same runs.
    pretraining = [o for o in overrides if not o.startswith(("sweep.tasks", "sweep.finetune", "sweep.scratch"))]
    sweep = SweepDir.for_grid(first, pretraining)
    root = sweep.path
    configs = [load_config(point + [f"run.root={sweep.pretrain_root}"]) for point in grid]  # validate all first
    for task in first.sweep.tasks:  # and every fine-tuning, before any pretraining runs
        load_config([f"task={task}"] + finetune_overrides(first, task) + runtime_overrides(first), root="finetune")
    say(f"[bold]sweep[/]: {len(configs)} pretraining run(s) -> {escape(str(root))}")
    try:
        _run_grid(grid, configs, root, overrides, runtime_overrides(first), console, say)
    except RunInterrupted as stop:  # the run's own hint (train.resume=true) is not the sweep's
        raise RunInterrupted(stop.step, stop.run_dir, f"sweep interrupted at step {stop.step} (checkpoint saved): "
                             f"run the same `maskbench sweep` command again; it finishes only what is missing") from None
    from maskbench.report.tables import write_report

    write_report([root], sweep.report, console)
    return root


def _run_grid(grid, configs, root: Path, overrides, runtime, console, say) -> None:
    launcher = configs[0].sweep.launcher
    if launcher != "sequential":
        from maskbench.train.launch import launch_grid

        launch_grid(grid, configs, root, overrides, runtime, console, say)
        return
    for i, (point, cfg) in enumerate(zip(grid, configs), 1):
        say(escape(f"[{i}/{len(configs)}] {' '.join(point) or '(defaults)'}: {RunDir.for_pretraining(cfg).status}"))
        run_point(point, root, overrides, runtime, console)
