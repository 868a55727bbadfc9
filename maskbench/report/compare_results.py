"""Everything a finished compare grid writes: summary.json (main gap, label efficiency, budget; each gap
with its interval), compare.png, label_efficiency.png, budget.png, and the terminal table."""

from __future__ import annotations

from pathlib import Path

from maskbench.report.budget import budget_rows, plot_budget, pretraining_progress
from maskbench.report.compare_plot import compare_summary, plot_compare, print_compare
from maskbench.report.figures import seeds_phrase
from maskbench.report.plateaus import find_plateaus
from maskbench.report.label_efficiency import label_efficiency_rows, plot_label_efficiency
from maskbench.report.uncertainty import gap_between, verdict
from maskbench.runs.layout import read_summary, write_summary
from maskbench.config.schema import FinetuneConfig


def _final(run, metric: str, extra: str | None = None) -> float:
    final = read_summary(run.dir)["final_eval"]
    return final[f"{extra}_{metric}" if extra else metric]


def _examples(run) -> int | None:
    return read_summary(run.dir).get("train_examples")


def _gap_group(pre: list, scr: list, metric: str, n_boot: int, extra: str | None = None) -> dict:
    """Both conditions' final scores (on the task's evaluation set, or on the task.extra_eval set `extra`)
    and the gap's interval."""
    pre, scr = sorted(pre, key=lambda r: r.seed), sorted(scr, key=lambda r: r.seed)
    pv, sv = [_final(r, metric, extra) for r in pre], [_final(r, metric, extra) for r in scr]
    return {"pretrained": pv, "scratch": sv,
            "interval": gap_between([r.dir for r in pre], [r.dir for r in scr], pv, sv, n_boot, extra=extra)}


def zero_shot_phrase(zs: dict) -> str:
    """compare.zero_shot in a few words: the last checkpoint's accuracy against its random twin's."""
    p, r = zs["pretrained"], zs["random"]
    return (f"zero-shot minimal pairs ({zs['pairs']:,}): pretrained {p['accuracy']:.1f} [{p['ci'][0]:.1f}, "
            f"{p['ci'][1]:.1f}] vs random weights {r['accuracy']:.1f} [{r['ci'][0]:.1f}, {r['ci'][1]:.1f}]")


def write_compare_results(grid, cfg: FinetuneConfig, pre_dir: Path, out: Path, console=None,
                          zero_shot: dict | None = None) -> dict:
    """`zero_shot`: compare.zero_shot's accuracies (maskbench/zeroshot/compare.py), put beside the gap."""
    metric, task, n_boot = cfg.task.metric, cfg.task.name, cfg.compare.bootstrap
    steps = sorted({r.step for r in grid if r.label == "pretrained"}, key=lambda s: -1 if s is None else s)
    sizes = sorted({r.size for r in grid}, key=lambda s: float("inf") if s is None else s)
    last, largest = steps[-1], sizes[-1]
    pick = lambda label, size, step=None: [r for r in grid if r.label == label and r.size == size  # noqa: E731
                                           and (label == "scratch" or r.step == step)]
    main = [(r.label, r.seed, r.dir) for r in pick("pretrained", largest, last) + pick("scratch", largest)]
    summary = compare_summary(main, metric, task, str(pre_dir), n_boot)
    if zero_shot is not None:
        summary["zero_shot"] = zero_shot
    name = Path(pre_dir).name
    plot_compare(main, metric, out / "compare.png", title=f"{task}: pretrained ({name}) vs scratch",
                 note=zero_shot_phrase(zero_shot) if zero_shot else "")
    written = [out / "compare.png"]
    for label in sorted({r.label for r in grid} - {"pretrained", "scratch"}):  # compare.baselines, same scratch
        runs = [("pretrained", r.seed, r.dir) for r in pick(label, largest)] + \
            [(r.label, r.seed, r.dir) for r in pick("scratch", largest)]
        part = compare_summary(runs, metric, task, label, n_boot)
        summary.setdefault("baselines", {})[label] = {k: v for k, v in part.items() if k != "runs"}
    if len(sizes) > 1:
        groups = []
        for size in sizes:
            g = _gap_group(pick("pretrained", size, last), pick("scratch", size), metric, n_boot)
            groups.append({**g, "train_size": _examples(pick("scratch", size)[0]) or size, "all": size is None})
        summary["label_efficiency"] = label_efficiency_rows(groups)
        written.append(plot_label_efficiency(summary["label_efficiency"], metric, out / "label_efficiency.png",
                                             f"{task}: label efficiency, pretrained ({name}) vs scratch"))
    if len(steps) > 1:
        extras = list(summary.get("extra_eval") or {})
        points = [{"step": step, **_gap_group(pick("pretrained", largest, step), pick("scratch", largest), metric,
                                              n_boot),
                   "extra": {x: _gap_group(pick("pretrained", largest, step), pick("scratch", largest), metric, n_boot, x)
                             for x in extras}} for step in steps]
        progress = pretraining_progress(pre_dir)
        summary["budget"] = budget_rows(points, progress)
        if zero_shot is not None:  # each checkpoint's zero-shot accuracy beside its gap
            by_step = {p["step"]: p for p in zero_shot["points"]}
            for row in summary["budget"]:
                z = by_step.get(row["step"])
                row["zero_shot"] = {"accuracy": z["accuracy"], "ci": z["ci"]} if z else None
        summary["pretraining_plateaus"] = find_plateaus([(s, p["val_loss"]) for s, p in progress.items()
                                                         if "val_loss" in p])
        written.append(plot_budget(summary["budget"], metric, out / "budget.png",
                                   f"{task}: gap against pretraining budget ({name})",
                                   summary["pretraining_plateaus"], x_axis=cfg.compare.x,
                                   zero_shot_floor=zero_shot["random"] if zero_shot else None))
    write_summary(out, summary)
    if console:
        print_compare(summary, console)
        if zero_shot is not None:
            console.print(f"{zero_shot_phrase(zero_shot)}, ties counted wrong ({zero_shot['pretrained']['ties']} / "
                          f"{zero_shot['random']['ties']}); {zero_shot['gap']['verdict']}", markup=False)
        for name, part in (summary.get("baselines") or {}).items():
            console.print(f"[bold]{name}[/] vs scratch: {part['pretrained']['mean']:.2f} vs {part['scratch']['mean']:.2f}, "
                          f"gap {part['gap']:+.2f}, {verdict(part)}")
        _print_rows(summary, console)
        for f in written:
            console.print(f"wrote {f}", markup=False)
    return summary


def _print_rows(summary: dict, console) -> None:
    from rich.table import Table

    m = summary["metric"]
    for key, title, first in (("label_efficiency", "label efficiency", "labelled examples"),
                              ("budget", "gap against the pretraining budget", "pretraining step")):
        rows = summary.get(key)
        if not rows:
            continue
        table = Table(title=f"{summary['task']}: {title}, eval {m} ({seeds_phrase(rows[0]['seeds'])})")
        for col in (first, "pretrained", "scratch", "gap", "95% interval", "verdict") + (
                ("labels ×",) if key == "label_efficiency" else ()):
            table.add_column(col, justify="left" if col == "verdict" else "right")
        for r in rows:
            x = f"{r['train_size']:,}" + (" (all)" if r.get("all") else "") if key == "label_efficiency" \
                else f"{r['step']:,}"
            ci = "-" if r["ci"] is None else f"{r['ci'][0]:+.2f} .. {r['ci'][1]:+.2f}"
            cells = [x, f"{r['pretrained']:.2f}", f"{r['scratch']:.2f}", f"{r['gap']:+.2f}", ci,
                     verdict(r).split(" (")[0]]
            if key == "label_efficiency":
                mult = r["multiplier"]
                cells.append(f"{mult:.2g}" if isinstance(mult, float) else str(mult))
            table.add_row(*cells)
        console.print(table)
