"""Loss curves from run folders: train loss (light, smoothed) and validation loss (bold), one colour per run;
validation plateaus shaded (report/plateaus.py)."""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.report.plateaus import find_plateaus, shade_plateaus
from maskbench.runs.rundir import read_metrics
from maskbench.runs.layout import config_path, summary_path


def _label(run_dir: Path) -> str:
    summary = summary_path(run_dir)
    cfg = config_path(run_dir)
    if summary.exists():
        s = json.loads(summary.read_text())
        if "corruption" in s:
            return f"{s['corruption']} / {s['arch']} / {s['model']} s{s['seed']}"
    if cfg.exists():
        import yaml

        c = yaml.safe_load(cfg.read_text())
        try:
            return f"{c['corruption']['name']} / {c['arch']['name']} / {c['model']['name']} s{c['seed']}"
        except (KeyError, TypeError):
            pass
    return run_dir.name


def run_labels(run_dirs: list[Path]) -> list[str]:
    """One legend label per run: its objective, architecture, model and seed, plus the folder name where two
    runs would otherwise read the same (the same config trained twice, say before and after a change)."""
    labels = [_label(run) for run in run_dirs]
    return [f"{label} ({run.name})" if labels.count(label) > 1 else label for label, run in zip(labels, run_dirs)]


def smooth(values: list[float], weight: float = 0.8) -> list[float]:
    out, last = [], None
    for v in values:
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


X_AXES = {"steps": "optimizer step", "tokens": "text tokens seen", "flops": "training FLOPs (model matmuls)",
          "seconds": "wall-clock seconds of training"}


def x_values(run: Path, events: list[dict], x: str) -> list[float]:
    """Where each event sits on the chosen axis: its step, tokens seen, elapsed seconds, or FLOPs (steps x the
    run's measured FLOPs per step, from summary.json: the count budgets are matched by)."""
    from maskbench.errors import MaskbenchError

    if x not in X_AXES:
        raise MaskbenchError(f"--x {x} is not an axis: choose one of {', '.join(X_AXES)}")
    if x == "flops":
        summary = summary_path(run)
        per_step = (json.loads(summary.read_text()).get("budget") or {}).get("flops_per_step") \
            if summary.exists() else None
        if not per_step:
            raise MaskbenchError(f"{run} has no FLOPs per step in summary.json (a pretraining run writes it when it "
                                 f"ends): plot it --x steps, tokens or seconds")
        return [e["step"] * float(per_step) for e in events]
    key = {"steps": "step", "tokens": "tokens", "seconds": "elapsed_s"}[x]
    missing = [e["step"] for e in events if key not in e]
    if missing:
        raise MaskbenchError(f"{run}/metrics.jsonl has no '{key}' at step {missing[0]}: plot it --x steps")
    return [float(e[key]) for e in events]


def figure_path(out, default_name: str) -> Path:
    """Where a figure really goes: into a folder given as -o (under its default name), a .png added to a name
    without one (what matplotlib would write), so the path reported is the file written."""
    out = Path(out)
    if out.is_dir():
        return out / default_name
    return out if out.suffix else out.with_name(out.name + ".png")


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None, x: str = "steps") -> Path:
    from maskbench.report.figures import pyplot, write_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    run_dirs = [Path(r) for r in run_dirs]
    for i, (run, label) in enumerate(zip(run_dirs, run_labels(run_dirs))):
        events = read_metrics(run)
        color = colors[i % len(colors)]
        train = [e for e in events if e.get("split") == "train"]
        val = [e for e in events if e.get("split") == "val"]
        if train:
            ax.plot(x_values(run, train, x), smooth([e["loss"] for e in train]), color=color, alpha=0.35,
                    lw=1.2, label=f"{label} (train)")
        if val:
            ax.plot(x_values(run, val, x), [e["loss"] for e in val], color=color, lw=2.2, marker="o", ms=3,
                    label=f"{label} (val)")
            if x == "steps":  # plateaus are found and drawn in steps
                shade_plateaus(ax, find_plateaus([(e["step"], e["loss"]) for e in val]), val[-1]["step"],
                               color=color, label=i == 0)
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel("loss (cross-entropy per predicted token, nats)")
    ax.set_title(title or "pretraining loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return write_figure(fig, figure_path(out, "loss.png"))
