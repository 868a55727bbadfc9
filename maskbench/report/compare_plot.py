"""The seed figure and its numbers: fine-tuning curves, pretrained (solid) vs scratch (dashed)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from maskbench.report.plots import smooth
from maskbench.runs.rundir import read_metrics


def curve_mean(run, metric: str) -> float:
    """Mean eval metric over the evaluations after step 0: how fast a run learns, not only where it ends."""
    values = [e[metric] for e in read_metrics(run) if e["split"] == "eval" and e["step"] > 0 and metric in e]
    return statistics.fmean(values) if values else float("nan")


def compare_summary(runs, metric: str, task: str, pretrained_from: str) -> dict:
    finals: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    curves: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    per_run = []
    for label, seed, run in runs:
        s = json.loads((Path(run) / "summary.json").read_text())
        value = s["final_eval"].get(metric)
        finals[label].append(value)
        curves[label].append(round(curve_mean(run, metric), 3))
        per_run.append({"init": label, "seed": seed, metric: value, "curve_mean": curves[label][-1],
                        "run": str(run), "wall_s": s["wall_s"]})

    return {"task": task, "metric": metric, "pretrained_from": pretrained_from, **_contrast(finals),
            "curve_mean": _contrast(curves), "runs": per_run}


def _contrast(values: dict[str, list[float]]) -> dict:
    """Pretrained vs scratch over seeds: means, spreads, the gap, and whether it exceeds the seed spread."""
    def agg(v):
        return {"mean": round(statistics.fmean(v), 3), "spread": round(max(v) - min(v), 3) if len(v) > 1 else None,
                "values": v}

    pre, scr = agg(values["pretrained"]), agg(values["scratch"])
    gap = round(pre["mean"] - scr["mean"], 3)
    spread = max(x for x in (pre["spread"], scr["spread"], 0.0) if x is not None)
    several = len(values["pretrained"]) > 1
    return {"pretrained": pre, "scratch": scr, "gap": gap, "max_seed_spread": spread,
            "gap_exceeds_seed_spread": bool(abs(gap) > spread) if several else None}  # either sign


def plot_compare(runs, metric: str, out: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    seeds = sorted({seed for _, seed, _ in runs})
    trained_values = []
    for label, seed, run in runs:
        events = read_metrics(run)
        color = colors[seeds.index(seed) % len(colors)]
        style = "-" if label == "pretrained" else "--"
        train = [e for e in events if e["split"] == "train"]
        ev = [e for e in events if e["split"] == "eval"]
        ax_loss.plot([e["step"] for e in train], smooth([e["loss"] for e in train]), style, color=color, lw=1.6,
                     label=f"{label} s{seed}")
        ax_metric.plot([e["step"] for e in ev], [e.get(metric) for e in ev], style, color=color, lw=1.8,
                       marker="o", ms=3, label=f"{label} s{seed}")
        trained_values += [e[metric] for e in ev if e["step"] > 0 and metric in e]
    if trained_values:  # zoom on the trained range: the untrained step-0 points would flatten the curves
        lo, hi = min(trained_values), max(trained_values)
        pad = max((hi - lo) * 0.08, 0.5)
        ax_metric.set_ylim(lo - pad, hi + pad)
    ax_loss.set(xlabel="fine-tuning step", ylabel="train loss (smoothed)", title="training loss")
    ax_metric.set(xlabel="fine-tuning step", ylabel=f"eval {metric}", title=f"eval {metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title + "  (solid: pretrained, dashed: from scratch)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def print_compare(summary: dict, console) -> None:
    from rich.table import Table

    m = summary["metric"]
    table = Table(title=f"{summary['task']}: eval {m}, pretrained vs scratch")
    for col in ("init", "final mean", "spread (max-min)", "per seed", "mean over the curve"):
        table.add_column(col, justify="right" if col != "init" else "left")
    for label in ("pretrained", "scratch"):
        a, c = summary[label], summary["curve_mean"][label]
        table.add_row(label, f"{a['mean']:.2f}", "-" if a["spread"] is None else f"{a['spread']:.2f}",
                      ", ".join(f"{v:.2f}" for v in a["values"]), f"{c['mean']:.2f}")
    console.print(table)
    cg = summary["curve_mean"]
    console.print(f"learning speed, mean {m} over the curve: [bold]{cg['gap']:+.2f}[/]{_verdict(cg)}")
    console.print(f"gap pretrained - scratch: [bold]{summary['gap']:+.2f}[/] {m}{_verdict(summary)}")


def _verdict(part: dict) -> str:
    if part["gap_exceeds_seed_spread"] is None:
        return ""
    if not part["gap_exceeds_seed_spread"]:
        return " [yellow](within the seed spread)[/]"
    return " (pretrained ahead by more than the seed spread)" if part["gap"] > 0 else \
        " [red](scratch ahead by more than the seed spread)[/]"
