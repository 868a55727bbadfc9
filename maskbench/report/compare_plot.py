"""The seed figure and its numbers: fine-tuning curves, pretrained (solid) vs scratch (dashed)."""

from __future__ import annotations

import statistics
from pathlib import Path

from maskbench.report.figures import pyplot, save_figure, seeds_phrase
from maskbench.report.plots import smooth
from maskbench.runs.rundir import read_metrics
from maskbench.runs.layout import read_summary


def curve_mean(run, metric: str) -> float:
    """Mean eval metric over the evaluations after step 0: how fast a run learns, not only where it ends."""
    values = [e[metric] for e in read_metrics(run) if e["split"] == "eval" and e["step"] > 0 and metric in e]
    return statistics.fmean(values) if values else float("nan")


def compare_summary(runs, metric: str, task: str, pretrained_from: str, n_boot: int = 2000) -> dict:
    """Pretrained vs scratch from (label, seed, run folder) triples: means, spreads, and the gap with its
    interval (final metric: paired bootstrap over eval examples and seeds; curve mean: over seeds)."""
    from maskbench.report.uncertainty import gap_between, seed_interval

    runs = sorted(runs, key=lambda r: (r[1], r[0]))
    finals: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    curves: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    dirs: dict[str, list] = {"pretrained": [], "scratch": []}
    per_run = []
    for label, seed, run in runs:
        s = read_summary(run)
        value = s["final_eval"].get(metric)
        finals[label].append(value)
        dirs[label].append(run)
        curves[label].append(round(curve_mean(run, metric), 3))
        per_run.append({"init": label, "seed": seed, metric: value, "curve_mean": curves[label][-1],
                        "run": str(run), "wall_s": s["wall_s"]})
    final = {**_contrast(finals), **gap_between(dirs["pretrained"], dirs["scratch"], finals["pretrained"],
                                                finals["scratch"], n_boot)}
    curve = {**_contrast(curves), **seed_interval(curves["pretrained"], curves["scratch"], n_boot)}
    return {"task": task, "metric": metric, "pretrained_from": pretrained_from, "seeds": len(finals["pretrained"]),
            **final, "curve_mean": curve, "extra_eval": _extra_contrasts(dirs, metric, n_boot), "runs": per_run}


def _extra_contrasts(dirs: dict, metric: str, n_boot: int) -> dict:
    """The same contrast on every task.extra_eval set (e.g. zero-shot Chinese after English fine-tuning)."""
    from maskbench.report.uncertainty import gap_between

    summaries = {label: [read_summary(r) for r in runs] for label, runs in dirs.items()}
    out = {}
    for name in summaries["pretrained"][0].get("extra_eval") or {}:
        values = {label: [s["extra_eval"][name][metric] for s in ss] for label, ss in summaries.items()}
        out[name] = {**_contrast(values), **gap_between(dirs["pretrained"], dirs["scratch"], values["pretrained"],
                                                        values["scratch"], n_boot, extra=name)}
    return out


def _contrast(values: dict[str, list[float]]) -> dict:
    """Pretrained vs scratch over seeds: means, spreads (max - min), the gap."""
    def agg(v):
        return {"mean": round(statistics.fmean(v), 3), "spread": round(max(v) - min(v), 3) if len(v) > 1 else None,
                "values": v}

    pre, scr = agg(values["pretrained"]), agg(values["scratch"])
    spread = max(x for x in (pre["spread"], scr["spread"], 0.0) if x is not None)
    return {"pretrained": pre, "scratch": scr, "gap": round(pre["mean"] - scr["mean"], 3), "max_seed_spread": spread}


def _mean_band(curves: list[list[float]]):
    """Mean, min and max over seeds of aligned curves (cut to the shortest)."""
    n = min(len(c) for c in curves)
    cols = [[c[i] for c in curves] for i in range(n)]
    return ([statistics.fmean(v) for v in cols], [min(v) for v in cols], [max(v) for v in cols])


def plot_compare(runs, metric: str, out: Path, title: str = "", note: str = "") -> Path:
    """Training loss and eval metric against fine-tuning step: per init the mean over seeds (pretrained
    solid, scratch dashed) with a min-max band over seeds; step 0 (before any fine-tuning) is drawn too. `note`: one
    more phrase for the title (compare.zero_shot's accuracies)."""
    fig, (ax_loss, ax_metric) = pyplot().subplots(1, 2, figsize=(11, 4.2), dpi=120)
    colors = {"pretrained": "#1f77b4", "scratch": "#d62728"}
    trained_values, starts = [], []
    n_seeds = len({seed for _, seed, _ in runs})
    for label in ("pretrained", "scratch"):
        mine = [run for lab, _, run in sorted(runs, key=lambda r: r[1]) if lab == label]
        if not mine:
            continue
        events = [read_metrics(run) for run in mine]
        train = [[e for e in ev if e["split"] == "train"] for ev in events]
        evals = [[e for e in ev if e["split"] == "eval" and metric in e] for ev in events]
        style, color = ("-" if label == "pretrained" else "--"), colors[label]
        if all(train):
            mean, low, high = _mean_band([smooth([e["loss"] for e in t]) for t in train])
            steps = [e["step"] for e in train[0]][:len(mean)]
            ax_loss.plot(steps, mean, style, color=color, lw=1.6, label=label)
            ax_loss.fill_between(steps, low, high, color=color, alpha=0.15, lw=0)
        if all(evals):
            mean, low, high = _mean_band([[e[metric] for e in ev] for ev in evals])
            steps = [e["step"] for e in evals[0]][:len(mean)]
            ax_metric.plot(steps, mean, style, color=color, lw=1.8, marker="o", ms=3, label=f"{label} (mean)")
            ax_metric.fill_between(steps, low, high, color=color, alpha=0.15, lw=0,
                                   label="min-max over seeds" if label == "pretrained" and n_seeds > 1 else None)
            trained_values += [v for ev in evals for e, v in ((e, e[metric]) for e in ev) if e["step"] > 0]
            if steps and steps[0] == 0:
                starts.append((label, mean[0], color))
    if trained_values:  # zoom on the trained range; step-0 points below it are marked at the edge
        lo, hi = min(trained_values), max(trained_values)
        pad = max((hi - lo) * 0.08, 0.5)
        ax_metric.set_ylim(lo - pad, hi + pad)
        below = [(label, value, color) for label, value, color in starts if value < lo - pad]
        for _, _, color in below:  # a down-pointing marker on the axis for a start below the zoomed range
            ax_metric.plot([0], [lo - pad], marker="v", ms=7, color=color, clip_on=False, zorder=5)
        if below:  # and the values they stand for, in the empty lower-right corner
            ax_metric.text(0.98, 0.04, "step 0 (▼): " + ", ".join(f"{label} {value:.1f}" for label, value, _ in below),
                           transform=ax_metric.transAxes, ha="right", va="bottom", fontsize=7,
                           bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
    ax_loss.set(xlabel="fine-tuning step", ylabel="train loss (smoothed)", title="training loss")
    ax_metric.set(xlabel="fine-tuning step", ylabel=f"eval {metric}", title=f"eval {metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, out, title, n_seeds, "solid: pretrained, dashed: from scratch" + (f"; {note}" if note else ""))


def print_compare(summary: dict, console) -> None:
    from rich.table import Table

    from maskbench.report.uncertainty import verdict

    m = summary["metric"]
    table = Table(title=f"{summary['task']}: eval {m}, pretrained vs scratch ({seeds_phrase(summary['seeds'])})")
    for col in ("init", "final mean", "spread (max-min)", "per seed", "mean over the curve"):
        table.add_column(col, justify="right" if col != "init" else "left")
    for label in ("pretrained", "scratch"):
        a, c = summary[label], summary["curve_mean"][label]
        table.add_row(label, f"{a['mean']:.2f}", "-" if a["spread"] is None else f"{a['spread']:.2f}",
                      ", ".join(f"{v:.2f}" for v in a["values"]), f"{c['mean']:.2f}")
    console.print(table)
    cg = summary["curve_mean"]
    console.print(f"learning speed, mean {m} over the curve: [bold]{cg['gap']:+.2f}[/], {verdict(cg)}", markup=True)
    console.print(f"gap pretrained - scratch: [bold]{summary['gap']:+.2f}[/] {m}, {verdict(summary)}")
    for name, part in (summary.get("extra_eval") or {}).items():
        console.print(f"on {name}: pretrained {part['pretrained']['mean']:.2f} vs scratch {part['scratch']['mean']:.2f}, "
                      f"gap [bold]{part['gap']:+.2f}[/], {verdict(part)}")
