"""`maskbench score RUN [RUN ...] --pairs PATH`: what pretraining learned, without a fine-tuning: minimal pairs scored
zero-shot by each model's own (pseudo-)likelihood, beside the same model with random weights
(maskbench/zeroshot/). With `--checkpoints`, accuracy over a run's checkpoints beside its validation loss, the
step where it left the MLM plateau marked (inspect/plateau.py)."""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.zeroshot.inputs import METHODS


def run_score(runs: list[Path], pairs_paths: list[Path], method: str | None, per_token: bool,
              checkpoints: str | None, as_json: bool, out: Path | None, seed: int, console, err_console) -> dict:
    from maskbench.zeroshot.curve import parse_checkpoints
    from maskbench.zeroshot.evaluate import GAP_INTERVAL, INTERVAL
    from maskbench.zeroshot.pairs import pair_files, read_pairs

    if not 0 <= seed < 2 ** 64:
        raise MaskbenchError(f"--seed {seed}: give a seed from 0 to 2^64 - 1")
    if method is not None and method not in METHODS:
        raise MaskbenchError(f"--method {method}: choose one of {', '.join(METHODS)}")
    which = parse_checkpoints(checkpoints) if checkpoints is not None else None
    figure = _figure_path(out) if out is not None else None
    files = pair_files(pairs_paths)
    pairs = read_pairs(files)
    labels = _labels(runs)
    report = {"pairs_files": [str(f) for f in files], "pairs": len(pairs),
              "groups": len({p.group for p in pairs}), "interval": INTERVAL, "gap_interval": GAP_INTERVAL,
              "ties": "counted as wrong"}
    with _progress(err_console) as progress:
        if which is None:
            report["runs"] = [_score_one(run, pairs, method, per_token, seed, progress) for run in runs]
        else:
            report["curves"] = [_curve(run, label, which, pairs, method, per_token, seed, progress, err_console)
                                for run, label in zip(runs, labels)]
    if figure is not None:
        from maskbench.zeroshot.figure import plot_curves, plot_groups

        what = "; ".join(sorted({r["method"] for r in report.get("runs") or report["curves"]}))
        title = f"zero-shot minimal pairs ({report['pairs']:,} pairs, {report['groups']} groups; {what}" + \
                ("; mean log-prob per token" if per_token else "") + ")"
        if which is None:
            plot_groups(report["runs"], labels, figure, title + ": pretrained vs random weights")
        else:
            plot_curves(report["curves"], figure, title + " over pretraining")
        report["figure"] = str(figure)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, allow_nan=False))
    else:
        for part in report.get("runs") or []:
            _print_run(part, report, console)
        for part in report.get("curves") or []:
            _print_curve(part, report, console)
        if figure is not None:
            console.print(f"wrote {figure}", markup=False)
    return report


def _figure_path(out: Path) -> Path:
    """The figure's path, tried for writing before any scoring: a folder that cannot be made or written, or a name
    too long, failed only after every pair of every run had been scored (minutes to hours for BLiMP)."""
    import os

    from maskbench.report.plots import figure_path

    path = figure_path(Path(out).expanduser(), "score.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    with open(path, "ab"):  # OSError (permission, name too long, a folder there): the guard's one line
        pass
    if not existed:
        os.unlink(path)
    return path


def _labels(runs: list[Path]) -> list[str]:
    names = [Path(r).name if Path(r).name not in ("final",) and not Path(r).name.startswith("step-")
             else f"{Path(r).parent.parent.name}/{Path(r).name}" for r in runs]
    return names if len(set(names)) == len(names) else [f"{k + 1}: {n}" for k, n in enumerate(names)]


def _score_one(run: Path, pairs, method, per_token, seed, progress) -> dict:
    from maskbench.zeroshot.evaluate import score_source
    from maskbench.zeroshot.model import open_source

    src = open_source(run)
    result, _, _ = score_source(src, pairs, method or "pll", per_token, seed, progress=progress)
    return {"run": str(run), **result}


def _curve(run: Path, label: str, which, pairs, method, per_token, seed, progress, err_console) -> dict:
    from maskbench.runs.layout import CHECKPOINTS, config_path
    from maskbench.train.compare import checkpoint_points
    from maskbench.zeroshot.curve import checkpoint_curve

    run = Path(run)
    if not (run / CHECKPOINTS).is_dir() or not config_path(run).exists():
        raise MaskbenchError(f"--checkpoints reads a pretraining run folder (with checkpoints/ and config.yaml): "
                             f"{run} is not one")
    points = checkpoint_points(run, which, what="--checkpoints")
    exit_point = _plateau_exit(run, err_console)
    return checkpoint_curve(run, points, pairs, method or "pll", per_token, seed, label, exit_point, progress)


def _plateau_exit(run: Path, err_console) -> dict | None:
    """The first evaluation past the one-neighbour bigram (inspect/plateau.py), or None (not an MLM encoder run, or
    it never left); a run whose training text cannot be read again gets no mark, said in one line."""
    from maskbench.inspect.plateau import run_exit

    try:
        found = run_exit(run).get("plateau_exit")
    except MaskbenchError as exc:
        err_console.print(f"note: {run.name}: no plateau exit marked ({exc})", markup=False, highlight=False)
        return None
    return {k: found[k] for k in ("step", "loss", "mlm_acc") if k in found} if found else None


class _progress:
    """A transient progress bar on standard error: `progress(label, total)` returns the advance function."""

    def __init__(self, err_console):
        self.console = err_console

    def __enter__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # Off where standard error is no terminal: rich's transient bar leaves an empty line in a log or a pipe
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=self.console, transient=True, disable=not self.console.is_terminal)
        self.bar.__enter__()

        def start(label: str, total: int):
            job = self.bar.add_task(f"score ({label})", total=total)
            return lambda k: self.bar.advance(job, k)
        return start

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def _acc(part) -> str:
    if not part:
        return "-"
    ci = part.get("ci")
    return f"{part['accuracy']:.1f}" + (f" [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "")


def _gap(gap) -> str:
    if not gap:
        return "-"
    ci = gap.get("ci")
    return f"{gap['gap']:+.1f}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "")


def _print_run(part: dict, report: dict, console) -> None:
    from rich.table import Table

    step = f", step {part['step']:,}" if part.get("step") is not None else ""
    table = Table(title=f"zero-shot minimal pairs: {part['run']} ({part['checkpoint']}{step}; {part['objective']})")
    for col in ("group", "pairs", "pretrained [95%]", "random [95%]", "gap [95%]", "ties"):
        table.add_column(col, justify="left" if col == "group" else "right")
    rows = part["groups"] + [{**part["overall"], "group": "overall"}]
    for k, g in enumerate(rows):
        pre, rnd = g["pretrained"], g.get("random")
        table.add_row(g["group"], f"{g['pairs']:,}", _acc(pre), _acc(rnd), _gap(g.get("gap")),
                      f"{pre['ties']} / {rnd['ties']}" if rnd else str(pre["ties"]),
                      end_section=k == len(rows) - 2, style="bold" if k == len(rows) - 1 else None)
    console.print(table)
    o = part["overall"]
    console.print(f"scored by {part['scored_by']}: {part['method_text']}"
                  + ("; mean log-probability per token" if part["per_token"] else "; summed log-probabilities"),
                  markup=False, highlight=False)
    if o.get("random"):
        console.print(f"overall {_acc(o['pretrained'])} vs random weights {_acc(o['random'])} (seed "
                      f"{part['random_seed']}): {o['gap']['verdict']}", markup=False, highlight=False)
    ties = f"ties count as wrong: {o['pretrained']['ties']:,} pretrained" + \
        (f", {o['random']['ties']:,} random" if o.get("random") else "")
    console.print(f"{ties}; {o['identical']:,} pairs tokenize identically (a tie for any model); "
                  f"intervals: {report['interval']}; gaps: {report['gap_interval']}", markup=False, highlight=False)
    if part.get("note"):
        console.print(f"note: {part['note']}", markup=False, highlight=False)


def _print_curve(part: dict, report: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"zero-shot minimal pairs over pretraining: {part['run']} ({part['objective']}; "
                        f"{part['pairs']:,} pairs)")
    for col in ("step", "val loss", "accuracy [95%]", "gap to random [95%]", "ties"):
        table.add_column(col, justify="right")
    for p in part["points"]:
        table.add_row(f"{p['step']:,}", "-" if p["val_loss"] is None else f"{p['val_loss']:.3f}", _acc(p),
                      _gap(p.get("gap")), str(p["ties"]))
    console.print(table)
    r = part["random"]
    exit_point = part.get("plateau_exit")
    console.print(f"random weights (seed {part['random_seed']}): {_acc(r)}, {r['ties']} ties; "
                  f"scored by {part['scored_by']}: {part['method_text']}", markup=False, highlight=False)
    plateaus = ", ".join(f"{q['start_step']:,}-{q['end_step']:,}" if q["end_step"] is not None
                         else f"{q['start_step']:,}-end" for q in part["plateaus"]) or "none"
    console.print(f"validation-loss plateaus: {plateaus}; left the MLM plateau (masked accuracy past the "
                  f"one-neighbour bigram): " + (f"step {exit_point['step']:,}" if exit_point else "not marked"),
                  markup=False, highlight=False)
