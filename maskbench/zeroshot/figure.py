"""The figures of `maskbench score`: accuracy per paradigm (rows) for each run beside its random-weight twin, and
accuracy over a run's checkpoints beside its validation-loss curve with the plateau marked."""

from __future__ import annotations

import statistics
from pathlib import Path

from maskbench.report.figures import pyplot, write_figure
from maskbench.report.plateaus import shade_plateaus

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
RANDOM = "#7f7f7f"


def _err(part: dict) -> tuple[list[float], list[float]]:
    lo, hi = part["ci"]
    return [part["accuracy"] - lo], [hi - part["accuracy"]]


def plot_groups(results: list[dict], labels: list[str], out: Path, title: str) -> Path:
    """One row per group (BLiMP paradigm), the overall accuracy on top: each run's pretrained model (filled, its
    colour) and random-weight twin (hollow, grey), 95% Wilson intervals as whiskers, 50% dashed."""
    plt = pyplot()
    names = [g["group"] for g in results[0]["groups"]]
    rows = ["overall"] + names
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.19 * len(rows)), dpi=120)
    k = len(results)
    for j, (res, label) in enumerate(zip(results, labels)):
        by_name = {"overall": res["overall"], **{g["group"]: g for g in res["groups"]}}
        off = (j - (k - 1) / 2) * (0.6 / max(k, 1))
        color = COLORS[j % len(COLORS)]
        for i, name in enumerate(rows):
            row = by_name.get(name)
            if row is None:
                continue
            y = i + off
            pre = row["pretrained"]
            ax.errorbar([pre["accuracy"]], [y], xerr=_err(pre), fmt="o", ms=4 if i else 6, color=color, capsize=2,
                        lw=1, label=f"{label}: pretrained" if i == 0 else None)
            if "random" in row:
                rnd = row["random"]
                ax.errorbar([rnd["accuracy"]], [y + 0.12 / k], xerr=_err(rnd), fmt="o", ms=3.5 if i else 5,
                            mfc="white", color=RANDOM if k == 1 else color, alpha=0.8, capsize=2, lw=0.8,
                            label=f"{label}: random weights" if i == 0 else None)
    ax.axvline(50, color="grey", ls="--", lw=1)
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set_yticks(range(len(rows)), [f"{r}" for r in rows], fontsize=7)
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%): the grammatical sentence scored higher; ties count as wrong", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
    ax.set_title(title, fontsize=9, pad=10 + 12 * ((2 * k + 1) // 2))
    return write_figure(fig, out)


def plot_curves(curves: list[dict], out: Path, title: str) -> Path:
    """Left: each run's validation loss against steps, its plateaus shaded (report/plateaus.py) and the step where it
    left the MLM plateau (inspect/plateau.py's plateau_exit) dotted. Right: its zero-shot accuracy at each scored
    checkpoint with the 95% interval as a band, and its random-weight twin's level dashed."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11.5, 4.4), dpi=120)
    last = max([p["step"] for c in curves for p in c["points"]] + [s for c in curves for s, _ in c["val_loss"]] + [1])
    for j, c in enumerate(curves):
        color = COLORS[j % len(COLORS)]
        if c["val_loss"]:
            ax_loss.plot(*zip(*c["val_loss"]), "-", color=color, lw=1.5, label=c["label"])
        if len(curves) == 1:
            shade_plateaus(ax_loss, c["plateaus"], last)
        pts = c["points"]
        x = [p["step"] for p in pts]
        acc = [p["accuracy"] for p in pts]
        ax_acc.plot(x, acc, "-o", ms=3.5, color=color, lw=1.6, label=f"{c['label']}: pretrained")
        ax_acc.fill_between(x, [p["ci"][0] for p in pts], [p["ci"][1] for p in pts], color=color, alpha=0.15, lw=0)
        if c.get("random"):
            r = c["random"]
            ax_acc.axhline(r["accuracy"], color=color, ls="--", lw=1.1, alpha=0.8,
                           label=f"{c['label']}: random weights {r['accuracy']:.1f}")
            ax_acc.axhspan(r["ci"][0], r["ci"][1], color=color, alpha=0.06, lw=0)
        exit_step = (c.get("plateau_exit") or {}).get("step")
        for ax in (ax_loss, ax_acc):
            if exit_step is not None:
                ax.axvline(exit_step, color=color, ls=":", lw=1.5,
                           label=f"{c['label']}: left the MLM plateau (step {exit_step:,})" if ax is ax_acc else None)
    ax_loss.set(xlabel="pretraining step", ylabel="validation loss", title="pretraining validation loss")
    ax_acc.set(xlabel="pretraining step of the checkpoint", ylabel="zero-shot accuracy (%)",
               title="minimal pairs: accuracy, 95% interval")
    per_step = _shared_flops_per_step(curves)
    if per_step:
        top = ax_acc.secondary_xaxis("top", functions=(lambda s: s * per_step, lambda f: f / per_step))
        top.set_xlabel("pretraining FLOPs (train/flops.py)", fontsize=8)
    for ax in (ax_loss, ax_acc):
        ax.set_xlim(0, last * 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return write_figure(fig, out)


def _shared_flops_per_step(curves: list[dict]) -> float | None:
    """The FLOPs of one step, when every run records it and they agree within 1% (one FLOPs axis fits all)."""
    values = [c.get("flops_per_step") for c in curves]
    if not values or any(v is None for v in values):
        return None
    mean = statistics.fmean(values)
    return mean if all(abs(v - mean) <= 0.01 * mean for v in values) else None
