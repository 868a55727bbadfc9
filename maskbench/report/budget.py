"""The gap against the pretraining budget: fine-tuning from several checkpoints of one pretraining run,
each against the same scratch runs, drawn against the checkpoints' pretraining steps (tokens on a second axis),
tokens, FLOPs or seconds (`compare.x`)."""

from __future__ import annotations

import statistics
from pathlib import Path

from maskbench.report.figures import pyplot, save_figure
from maskbench.report.plateaus import shade_plateaus
from maskbench.runs.rundir import read_metrics
from maskbench.runs.layout import is_done, metrics_path, read_summary


def pretraining_progress(pre_dir: Path) -> dict[int, dict]:
    """step -> {"tokens", "val_loss", "flops", "seconds"} from the pretraining run's metrics and summary."""
    pre_dir = Path(pre_dir)
    if not metrics_path(pre_dir).exists():
        return {}
    events = read_metrics(pre_dir)
    summary = read_summary(pre_dir) if is_done(pre_dir) else {}
    flops_per_step = (summary.get("budget") or {}).get("flops_per_step")
    out: dict[int, dict] = {}
    for e in events:
        row = out.setdefault(e["step"], {})
        if "tokens" in e:
            row["tokens"] = e["tokens"]
        if "elapsed_s" in e:
            row["seconds"] = e["elapsed_s"]
        if e.get("split") == "val":
            row["val_loss"] = e["loss"]
        if flops_per_step:
            row["flops"] = round(flops_per_step * e["step"])
    return out


def budget_rows(points: list[dict], progress: dict[int, dict]) -> list[dict]:
    """`points`: per checkpoint step {"step", "pretrained": [..], "scratch": [..], "interval": {..}}."""
    rows = []
    for p in sorted(points, key=lambda p: p["step"]):
        known = progress.get(p["step"], {})
        rows.append({"step": p["step"], "tokens": known.get("tokens"), "flops": known.get("flops"),
                     "seconds": known.get("seconds"),
                     "val_loss": known.get("val_loss"), "pretrained": round(statistics.fmean(p["pretrained"]), 3),
                     "scratch": round(statistics.fmean(p["scratch"]), 3), "gap": p["interval"]["gap"],
                     "ci": p["interval"]["ci"], "separable": p["interval"]["separable"],
                     "seeds": len(p["pretrained"]), "pretrained_values": p["pretrained"],
                     "extra": {name: {"pretrained": round(statistics.fmean(g["pretrained"]), 3),
                                      "scratch": round(statistics.fmean(g["scratch"]), 3), "gap": g["interval"]["gap"],
                                      "ci": g["interval"]["ci"], "separable": g["interval"]["separable"]}
                               for name, g in (p.get("extra") or {}).items()}})
    return rows


X_LABELS = {"steps": ("step", "pretraining step of the checkpoint"),
            "tokens": ("tokens", "pretraining tokens of the checkpoint"),
            "flops": ("flops", "pretraining FLOPs of the checkpoint"),
            "seconds": ("seconds", "pretraining seconds of the checkpoint")}


def plot_budget(rows: list[dict], metric: str, out: Path, title: str, plateaus: list[dict] | None = None,
                x_axis: str = "steps", zero_shot_floor: dict | None = None) -> Path:
    """Left: fine-tuned metric from each checkpoint (mean, min-max band) with scratch's level dashed, and the
    checkpoint's validation loss on a second axis. Right: the gap with its 95% interval, and (compare.zero_shot: rows
    with "zero_shot") each checkpoint's zero-shot accuracy on a second axis beside it, its random twin's
    (`zero_shot_floor`) dashed. Pretraining plateaus (report/plateaus.py) shaded on both (on the step axis)."""
    from maskbench.errors import MaskbenchError

    key, xlabel = X_LABELS[x_axis]
    if any(r.get(key) is None for r in rows):
        raise MaskbenchError(f"compare.x={x_axis}: the pretraining run does not record {key} for every checkpoint "
                             f"(FLOPs need its summary.json): use compare.x=steps")
    fig, (ax, ax_gap) = pyplot().subplots(1, 2, figsize=(11, 4.2), dpi=120)
    x = [r[key] for r in rows]
    vals = [r["pretrained_values"] for r in rows]
    ax.plot(x, [statistics.fmean(v) for v in vals], "-o", color="#1f77b4", lw=1.8, label="pretrained (mean)")
    ax.fill_between(x, [min(v) for v in vals], [max(v) for v in vals], color="#1f77b4", alpha=0.15, lw=0)
    ax.axhline(rows[0]["scratch"], color="#d62728", ls="--", lw=1.6, label="scratch (mean)")
    ax.set(xlabel=xlabel, ylabel=f"eval {metric} after fine-tuning",
           title=f"eval {metric}")
    if any(r["val_loss"] is not None for r in rows):
        twin = ax.twinx()
        twin.plot(x, [r["val_loss"] for r in rows], ":", color="grey", marker="s", ms=3, label="pretraining val loss")
        twin.set_ylabel("pretraining validation loss", color="grey")
        twin.legend(fontsize=7, loc="lower right")
    gaps = [r["gap"] for r in rows]
    ax_gap.errorbar(x, gaps, yerr=[[g - (r["ci"][0] if r["ci"] else g) for g, r in zip(gaps, rows)],
                                   [(r["ci"][1] if r["ci"] else g) - g for g, r in zip(gaps, rows)]],
                    fmt="o-", color="#2ca02c", capsize=4, lw=1.6, label="gap, 95% interval")
    for k, name in enumerate(rows[0].get("extra") or {}):  # task.extra_eval sets, e.g. zero-shot Chinese
        parts = [r["extra"][name] for r in rows]
        ax_gap.errorbar(x, [p["gap"] for p in parts],
                        yerr=[[p["gap"] - (p["ci"][0] if p["ci"] else p["gap"]) for p in parts],
                              [(p["ci"][1] if p["ci"] else p["gap"]) - p["gap"] for p in parts]],
                        fmt="s--", color=["#9467bd", "#8c564b", "#e377c2"][k % 3], capsize=3, lw=1.3,
                        label=f"gap on {name}, 95% interval")
    ax_gap.axhline(0, color="grey", lw=1)
    zs = [(xi, r["zero_shot"]) for xi, r in zip(x, rows) if r.get("zero_shot")]
    if zs:
        twin = ax_gap.twinx()
        twin.errorbar([a for a, _ in zs], [z["accuracy"] for _, z in zs],
                      yerr=[[z["accuracy"] - z["ci"][0] for _, z in zs], [z["ci"][1] - z["accuracy"] for _, z in zs]],
                      fmt="s:", color="#9467bd", ms=4, capsize=3, lw=1.2, label="zero-shot minimal pairs, 95% interval")
        if zero_shot_floor:
            twin.axhline(zero_shot_floor["accuracy"], color="#9467bd", ls="--", lw=1, alpha=0.7,
                         label=f"zero-shot, random weights ({zero_shot_floor['accuracy']:.1f})")
        twin.set_ylabel("zero-shot accuracy (%)", color="#9467bd")
        twin.legend(fontsize=7, loc="lower right")
    ax_gap.set(xlabel=xlabel, ylabel=f"pretrained - scratch ({metric})",
               title="gap against the pretraining budget")
    if x_axis == "steps" and all(r["tokens"] for r in rows):
        top = ax_gap.secondary_xaxis("top", functions=(_scale(rows, "tokens"), _scale(rows, "tokens", inverse=True)))
        top.set_xlabel("pretraining tokens (millions)", fontsize=8)
    for a in (ax, ax_gap):
        shade_plateaus(a, plateaus if x_axis == "steps" else [], max(x), label=a is ax_gap)
        a.grid(alpha=0.3)
        a.legend(fontsize=7, loc="upper left")
    return save_figure(fig, out, title, rows[0]["seeds"])


def _scale(rows, key, inverse=False):
    """Steps <-> millions of tokens (linear: a constant batch of tokens per step)."""
    per_step = statistics.fmean(r[key] / r["step"] for r in rows if r["step"]) / 1e6
    return (lambda s: s / per_step) if inverse else (lambda s: s * per_step)
