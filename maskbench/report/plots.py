"""Loss curves from run folders: train loss (light, smoothed) and validation loss (bold), one colour per run;
validation plateaus shaded (report/plateaus.py)."""

from __future__ import annotations

from pathlib import Path

from maskbench.report.plateaus import find_plateaus, shade_plateaus
from maskbench.runs.rundir import read_metrics
from maskbench.runs.layout import config_path, read_summary, summary_path


def _label(run_dir: Path) -> str:
    """The run's objective / architecture / model and seed, from its summary or config; a damaged or foreign one
    leaves the folder's name."""
    import yaml

    from maskbench.errors import MaskbenchError

    try:
        s = read_summary(run_dir) if summary_path(run_dir).exists() else {}
        if "corruption" in s:
            return f"{s['corruption']} / {s['arch']} / {s['model']} s{s['seed']}"
        if config_path(run_dir).exists():
            c = yaml.safe_load(config_path(run_dir).read_text())
            return f"{c['corruption']['name']} / {c['arch']['name']} / {c['model']['name']} s{c['seed']}"
    except (MaskbenchError, KeyError, TypeError, yaml.YAMLError):
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
        budget = read_summary(run).get("budget") if summary_path(run).exists() else None
        per_step = budget.get("flops_per_step") if isinstance(budget, dict) else None
        if not per_step:
            raise MaskbenchError(f"{run} has no FLOPs per step in summary.json (a pretraining run writes it when it "
                                 f"ends): plot it --x steps, tokens or seconds")
        return [e["step"] * float(per_step) for e in events]
    key = {"steps": "step", "tokens": "tokens", "seconds": "elapsed_s"}[x]
    missing = [e["step"] for e in events if not _number(e.get(key))]
    if missing:
        raise MaskbenchError(f"{run}/metrics.jsonl has no '{key}' number at step {missing[0]}: plot it --x steps")
    return [float(e[key]) for e in events]


# What savefig writes (the suffix picks the format); anything else is refused before any work.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def figure_path(out, default_name: str) -> Path:
    """Where a figure really goes: into a folder given as -o (under its default name), a .png added to a name
    without one (what matplotlib would write), so the path reported is the file written. A suffix that is not
    an image format is one line."""
    from maskbench.errors import MaskbenchError

    out = Path(out)
    if out.is_dir():
        return out / default_name
    if out.suffix and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise MaskbenchError(f"-o {out}: {out.suffix} is not an image format: give a {', '.join(FIGURE_SUFFIXES)} "
                             f"file name, e.g. -o {out.with_suffix('.png')}")
    return out if out.suffix else out.with_name(out.name + ".png")


def plotted_loss(events: list[dict]) -> tuple[str, str]:
    """(the metrics key plotted as a run's loss, a note for its label). A run with several loss terms logs their
    weighted sum as `loss` (ELECTRA: generator MLM + 50 x replaced-token BCE; NSP: MLM + next-sentence), which is
    no cross-entropy per predicted token: its masked-LM term `mlm_loss` is the comparable curve, and is labelled."""
    if not any("mlm_loss" in e for e in events):
        return "loss", ""
    if any("rtd_loss" in e for e in events):
        return "mlm_loss", "generator MLM term; its loss adds 50x replaced-token BCE"
    return "mlm_loss", "MLM term; its loss adds the other terms"


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def run_colors(n: int) -> list:
    """n colours that differ: the default cycle up to 10 runs, tab20 up to 20, then evenly spaced hues."""
    from maskbench.report.figures import pyplot

    plt = pyplot()
    if n <= 10:
        return plt.rcParams["axes.prop_cycle"].by_key()["color"][:n]
    cmap = plt.get_cmap("tab20" if n <= 20 else "turbo")
    return [cmap(i / max(n - 1, 1)) if n > 20 else cmap(i) for i in range(n)]


def plot_runs(run_dirs: list[Path], out: Path, title: str | None = None, x: str = "steps") -> Path:
    from matplotlib.lines import Line2D

    from maskbench.report.figures import pyplot, write_figure

    plt = pyplot()
    out = figure_path(out, "loss.png")
    run_dirs = [Path(r) for r in run_dirs]
    # Many runs: the legend goes beside the axes (never over the curves), one entry per run.
    beside = len(run_dirs) > 4
    fig, ax = plt.subplots(figsize=(11 if beside else 8, 4.8 + max(0, len(run_dirs) - 20) * 0.18), dpi=120)
    colors = run_colors(len(run_dirs))
    handles = []
    for i, (run, label) in enumerate(zip(run_dirs, run_labels(run_dirs))):
        events = read_metrics(run)
        color = colors[i]
        key, note = plotted_loss(events)
        # An event without the value (or with one that is not a number: an edited file) is not a point.
        points = [e for e in events if _number(e.get(key)) and _number(e.get("step"))]
        train = [e for e in points if e.get("split") == "train"]
        val = [e for e in points if e.get("split") == "val"]
        if train:
            ax.plot(x_values(run, train, x), smooth([e[key] for e in train]), color=color, alpha=0.35, lw=1.2)
        if val:
            ax.plot(x_values(run, val, x), [e[key] for e in val], color=color, lw=2.2, marker="o", ms=3)
            if x == "steps":  # plateaus are found and drawn in steps
                shade_plateaus(ax, find_plateaus([(e["step"], e[key]) for e in val]), val[-1]["step"],
                               color=color, label=i == 0)
        handles.append(Line2D([], [], color=color, lw=2.2, label=f"{label} [{note}]" if note else label))
    handles += ax.get_legend_handles_labels()[0]  # the plateau marks
    handles += [Line2D([], [], color="grey", lw=1.2, alpha=0.35, label="train (smoothed)"),
                Line2D([], [], color="grey", lw=2.2, marker="o", ms=3, label="validation")]
    ax.set_xlabel(X_AXES[x])
    ax.set_ylabel("loss (cross-entropy per predicted token, nats)")
    ax.set_title(title or "pretraining loss")
    ax.grid(alpha=0.3)
    if beside:
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                  ncol=1 if len(handles) <= 24 else 2)
    else:
        ax.legend(handles=handles, fontsize=7, loc="upper right")
    return write_figure(fig, out)
