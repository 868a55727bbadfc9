"""Label-efficiency curves: eval metric against the number of labelled examples, pretrained vs scratch,
and ULMFiT's "data multiplier" — how many labels scratch needs to match the pretrained model at N."""

from __future__ import annotations

import math
import statistics
from pathlib import Path


def data_multiplier(sizes: list[int], scratch_means: list[float], target: float, n: int):
    """labels scratch needs to reach `target` / n, interpolated linearly in log(size) between measured sizes
    (sizes ascending). Beyond the largest size: "more than all"; below the smallest: "at most <x>"."""
    for i, (size, value) in enumerate(zip(sizes, scratch_means)):
        if value >= target:
            if i == 0:
                return f"at most {size / n:.3g}"
            s0, v0 = sizes[i - 1], scratch_means[i - 1]
            frac = (target - v0) / (value - v0) if value != v0 else 1.0
            needed = math.exp(math.log(s0) + frac * (math.log(size) - math.log(s0)))
            return round(needed / n, 2)
    return "more than all"


def label_efficiency_rows(groups: list[dict]) -> list[dict]:
    """`groups`: per size (ascending) {"train_size", "all", "pretrained": [..], "scratch": [..], "interval": {..}}
    -> the summary.json["label_efficiency"] rows (means over seeds, gap, ci, multiplier)."""
    sizes = [g["train_size"] for g in groups]
    scratch_means = [statistics.fmean(g["scratch"]) for g in groups]
    rows = []
    for g in groups:
        pre = statistics.fmean(g["pretrained"])
        rows.append({"train_size": g["train_size"], "all": g["all"], "pretrained": round(pre, 3),
                     "scratch": round(statistics.fmean(g["scratch"]), 3), "gap": g["interval"]["gap"],
                     "ci": g["interval"]["ci"], "separable": g["interval"]["separable"],
                     "seeds": len(g["pretrained"]),
                     "multiplier": data_multiplier(sizes, scratch_means, pre, g["train_size"]),
                     "pretrained_values": g["pretrained"], "scratch_values": g["scratch"]})
    return rows


def plot_label_efficiency(rows: list[dict], metric: str, out: Path, title: str) -> Path:
    """Left: metric against labelled examples (log x), mean over seeds with a min-max band, pretrained solid,
    scratch dashed. Right: the gap with its 95% interval at each size."""
    from maskbench.report.figures import pyplot, save_figure

    fig, (ax, ax_gap) = pyplot().subplots(1, 2, figsize=(11, 4.2), dpi=120)
    x = [r["train_size"] for r in rows]
    for label, style, color in (("pretrained", "-", "#1f77b4"), ("scratch", "--", "#d62728")):
        values = [r[f"{label}_values"] for r in rows]
        ax.plot(x, [statistics.fmean(v) for v in values], style, color=color, marker="o", lw=1.8, label=label)
        ax.fill_between(x, [min(v) for v in values], [max(v) for v in values], color=color, alpha=0.15, lw=0)
    ax.set_xscale("log")
    ax.set(xlabel="labelled training examples (log scale)", ylabel=f"eval {metric}", title=f"eval {metric}")
    gaps = [r["gap"] for r in rows]
    lows = [r["gap"] - r["ci"][0] if r["ci"] else 0 for r in rows]
    highs = [r["ci"][1] - r["gap"] if r["ci"] else 0 for r in rows]
    ax_gap.errorbar(x, gaps, yerr=[lows, highs], fmt="o-", color="#2ca02c", capsize=4, lw=1.6,
                    label="gap, 95% interval")
    ax_gap.axhline(0, color="grey", lw=1)
    for r in rows:
        if isinstance(r["multiplier"], float):
            ax_gap.annotate(f"×{r['multiplier']:.2g}", (r["train_size"], r["gap"]), textcoords="offset points",
                            xytext=(6, 6), fontsize=7)
    ax_gap.set_xscale("log")
    ax_gap.set(xlabel="labelled training examples (log scale)", ylabel=f"pretrained - scratch ({metric})",
               title="gap (labels: scratch needs ×N as many labels)")
    for a in (ax, ax_gap):
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=7)
    return save_figure(fig, out, title, rows[0]["seeds"] if rows else 0)
