"""`maskbench compare`: fine-tune a pretrained model and the same model from random init with identical
data order, hyper-parameters and seeds, over a grid of

- seeds (`compare.seeds`),
- labelled-set sizes (`compare.train_sizes`: nested seeded subsets -> the label-efficiency curve), and
- pretraining checkpoints (`compare.checkpoints`: the gap against the pretraining budget; scratch once).

Writes compare.png (curves, mean over seeds with a band), label_efficiency.png, budget.png and one
summary.json with every gap and its interval (report/uncertainty.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from maskbench.config import load_config, runtime_overrides, with_changes
from maskbench.errors import MaskbenchError, RunInterrupted
from maskbench.runs.layout import checkpoint_folder, checkpoint_step, is_checkpoint
from maskbench.runs.rundir import RunDir
from maskbench.train.finetune import resolve_init, run_finetune
from maskbench.config.schema import FinetuneConfig


@dataclass(frozen=True)
class GridRun:
    """One fine-tuning run of a compare: which init, seed, labelled-set size (None = all) and checkpoint."""
    label: str          # pretrained | scratch
    seed: int
    size: int | None
    step: int | None    # pretraining step of the checkpoint (None for scratch)
    dir: Path


def ensure_pretrained(cfg: FinetuneConfig, console=None, spec=None) -> Path:
    """The pretraining run to start from: compare.init, or the run that compare.pretrain (or `spec`, a
    baseline's overrides or folder) describes (trained now if missing, resumed if interrupted, reused if complete)."""
    if spec is None and cfg.compare.init:
        return Path(cfg.compare.init).expanduser().resolve()
    if isinstance(spec, str):
        return Path(spec).expanduser().resolve()
    from maskbench.train.pretrain import run_pretrain

    overrides = _pretraining_overrides(cfg, spec)
    return run_pretrain(load_config(overrides), command="maskbench pretrain " + " ".join(overrides), console=console,
                        continue_existing=True)


def _pretraining_overrides(cfg: FinetuneConfig, spec=None) -> list[str]:
    """compare.pretrain (or a baseline's overrides), with the command's speed-only settings."""
    return list(cfg.compare.pretrain if spec is None else spec) + runtime_overrides(cfg)


def check_pretrainings(cfg: FinetuneConfig) -> None:
    """Every pretraining the compare may start (compare.pretrain and each baseline's overrides) composes and
    fits, and every baseline folder exists: checked before any of them trains, not hours in."""
    specs = {} if cfg.compare.init else {"compare.pretrain": list(cfg.compare.pretrain)}
    specs.update({f"compare.baselines.{name}": _spec(spec) for name, spec in (cfg.compare.baselines or {}).items()})
    for where, spec in specs.items():
        if isinstance(spec, str):
            if not Path(spec).expanduser().exists():
                raise MaskbenchError(f"{where}={spec} does not exist: give a pretraining run folder or a list of "
                                     f"pretraining overrides")
            continue
        try:
            load_config(_pretraining_overrides(cfg, spec))
        except MaskbenchError as exc:
            raise MaskbenchError(f"{where}={spec}: {exc}") from None


def checkpoint_points(pre_dir: Path, which, what: str = "compare.checkpoints") -> list[tuple[int | None, Path]]:
    """(pretraining step, folder) of the checkpoints to fine-tune from (or score: `what` names the option in the
    refusals); `last` keeps the folder as given."""
    from maskbench.runs.checkpoint import step_checkpoints

    if str(which) == "last":
        return [(_checkpoint_step(pre_dir), pre_dir)]
    final = checkpoint_folder(pre_dir)
    found = step_checkpoints(pre_dir) + ([(_checkpoint_step(final), final)] if is_checkpoint(final) else [])
    found = sorted({step: path for step, path in found}.items())  # final may repeat the last step-N
    if str(which) == "all":
        if not found:
            raise MaskbenchError(f"{what}=all: {pre_dir} holds no checkpoints/ (give a run folder)")
        return found
    by_step = dict(found)
    missing = [int(s) for s in which if int(s) not in by_step]
    if missing:
        raise MaskbenchError(f"{what}: {pre_dir} has no checkpoint at step {missing[0]}; it has "
                             f"{', '.join(str(s) for s in by_step) or 'none'}")
    return [(int(s), by_step[int(s)]) for s in sorted(set(int(s) for s in which))]


def _spec(spec):
    """A baseline: a run folder (str) or a list of pretraining overrides."""
    return list(spec) if isinstance(spec, list) else str(spec)


def _checkpoint_step(folder: Path) -> int | None:
    from maskbench.runs.checkpoint import latest_checkpoint

    folder = Path(folder)
    ckpt = folder if is_checkpoint(folder) else latest_checkpoint(folder)
    if ckpt is None or not is_checkpoint(ckpt):
        return None  # a transformers folder: no step
    return checkpoint_step(ckpt)


def _run_name(label: str, seed: int, size: int | None, step: int | None, sizes: list, several_steps: bool) -> str:
    parts = [label]
    if several_steps and step is not None:
        parts.append(f"step{step}")
    if sizes != [None]:
        parts.append(f"n{size}" if size is not None else "nall")
    return "-".join(parts + [f"s{seed}"])


def plan_grid(cfg: FinetuneConfig, out: Path, points, baselines=()) -> list[GridRun]:
    sizes = [None if s == "all" else int(s) for s in (cfg.compare.train_sizes or ["all"])]
    several = len(points) > 1
    grid = []
    for seed in cfg.compare.seeds:
        for size in sizes:
            for step, _ in points:
                grid.append(GridRun("pretrained", int(seed), size, step,
                                    out / _run_name("pretrained", int(seed), size, step, sizes, several)))
            for name in baselines:  # other pretrained models: their last checkpoint
                grid.append(GridRun(name, int(seed), size, None, out / _run_name(name, int(seed), size, None, sizes,
                                                                                  several)))
            grid.append(GridRun("scratch", int(seed), size, None,
                                out / _run_name("scratch", int(seed), size, None, sizes, several)))
    return grid


def run_compare_tasks(overrides: list[str], command: str = "", console=None) -> Path:
    """compare.tasks: one compare per task (the same pretrained models), then one table and figure."""
    from maskbench.report.compare_tasks import write_task_results

    first = load_config(overrides, root="finetune")
    folder = RunDir.for_task_comparison(first, overrides).path
    for t in first.compare.tasks:  # validate every task's config before any training
        load_config(overrides + [f"task={t}"], root="finetune")
    outs = [run_compare(load_config(overrides + [f"task={t}", f"run.dir={folder / str(t)}"], root="finetune"),
                        command, console) for t in first.compare.tasks]
    write_task_results(outs, folder, f"pretrained vs scratch over {len(outs)} tasks", console)
    return folder


def run_compare(cfg: FinetuneConfig, command: str = "", console=None) -> Path:
    if cfg.init != "scratch":  # the finetune spelling would be silently ignored
        raise MaskbenchError(f"compare takes its pretrained model as compare.init={cfg.init} (init= is finetune's)")
    check_pretrainings(cfg)
    if cfg.compare.zero_shot:
        from maskbench.zeroshot.compare import check_pairs

        check_pairs(cfg.compare.zero_shot)
    pre_dir = ensure_pretrained(cfg, console)
    points = checkpoint_points(pre_dir, cfg.compare.checkpoints)
    sources = {step: resolve_init(with_changes(cfg, init=str(path))) for step, path in points}
    if cfg.compare.zero_shot:
        from maskbench.zeroshot.compare import check_pairs_fit

        check_pairs_fit(cfg.compare.zero_shot, sources[points[-1][0]])
    scratch = sources[points[-1][0]].scratch_twin()
    baselines = {str(name): resolve_init(with_changes(cfg, init=str(ensure_pretrained(cfg, console, _spec(spec)))))
                 for name, spec in (cfg.compare.baselines or {}).items()}
    out = RunDir.for_comparison(cfg, pre_dir.name).path  # pre_dir: a run folder or one of its checkpoints
    out.mkdir(parents=True, exist_ok=True)
    grid = plan_grid(cfg, out, points, baselines)
    jobs = []
    for run in grid:
        scfg = with_changes(cfg, seed=run.seed, task={"train_size": run.size})
        backbone = sources[run.step] if run.label == "pretrained" else baselines.get(run.label, scratch)
        jobs.append((scfg, backbone, run.dir))
    n_jobs = min(cfg.compare.jobs, len(jobs))
    if n_jobs > 1:
        from maskbench.train.parallel_finetune import backbone_spec, run_side_by_side

        say = console.print if console else (lambda msg: None)
        todo = [(c, backbone_spec(b), d) for c, b, d in jobs if RunDir(d).status != "done"]
        if todo:
            run_side_by_side(todo, n_jobs, command, say)
        jobs = []  # all done
    for k, (scfg, backbone, run_dir) in enumerate(jobs, 1):
        if console and len(grid) > 4:
            console.print(f"[dim]compare run {k}/{len(grid)}: {run_dir.name}[/]")
        try:
            # An interrupted compare continues only the unfinished run.
            run_finetune(scfg, command=command, console=console, backbone=backbone, run_dir=run_dir,
                         continue_existing=True)
        except RunInterrupted as stop:  # the compare continues its unfinished run itself
            raise RunInterrupted(stop.step, run_dir, f"compare interrupted at step {stop.step} of {run_dir.name} "
                                 f"(checkpoint saved): run the same command again; it does only what is missing") from None
    from maskbench.report.compare_results import write_compare_results

    zero_shot = None
    if cfg.compare.zero_shot:
        from maskbench.zeroshot.compare import compare_zero_shot

        if console:
            console.print(f"[dim]zero-shot minimal pairs ({cfg.compare.zero_shot}) of the pretrained model and its "
                          f"random twin[/]")
        zero_shot = compare_zero_shot(cfg.compare.zero_shot, sources, out)
    write_compare_results(grid, cfg, pre_dir, out, console, zero_shot=zero_shot)
    return out
