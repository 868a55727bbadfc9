"""The objective ranking as a picture: per task, every pretrained objective's gap to the from-scratch
baseline with its 95% interval (paired bootstrap over evaluation examples and seeds), best first, the
rank tiers of the report in the labels (≈ where neighbours cannot be told apart) and BART Table 1's
order beside them. One figure answers "which objective helps, by how much, and is that more than noise"."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from maskbench.report.figures import pyplot, save_figure


def plot_rankings(ft: list[dict], out_dir: Path) -> list[Path]:
    """One `ranking-<task>[-<arch>].png` per (task, arch) whose rows have gaps to scratch; [] if none do."""
    groups: dict[tuple, list[dict]] = {}
    for r in ft:
        if r.get("vs_scratch"):
            groups.setdefault((r["task"], r["arch"]), []).append(r)
    archs_per_task = Counter(task for task, _ in groups)  # the arch joins the file name only where needed
    return [_plot_group(task, arch, rows, Path(out_dir) / (f"ranking-{task}" + (f"-{arch}" if archs_per_task[task] > 1
                                                                                  else "") + ".png"))
            for (task, arch), rows in sorted(groups.items())]


def _plot_group(task: str, arch: str, rows: list[dict], out: Path) -> Path:
    plt = pyplot()
    rows = sorted(rows, key=lambda r: -r["vs_scratch"]["gap"])
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(rows) + 1.6), dpi=120)
    for y, r in enumerate(rows):
        g = r["vs_scratch"]
        low, high = g["ci"] if g["ci"] else (g["gap"], g["gap"])
        color = "tab:green" if g["separable"] and g["gap"] > 0 else "tab:red" if g["separable"] else "tab:gray"
        ax.errorbar(g["gap"], y, xerr=[[g["gap"] - low], [high - g["gap"]]], fmt="o", color=color, capsize=4)
    labels = []
    for r in rows:
        bart = f", BART T1 #{r['bart_rank']}" if "bart_rank" in r else ""
        labels.append(f"{r['objective']} (rank {r['rank']}{' ≈' if r.get('tied') else ''}{bart})")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="black", linestyle="--", linewidth=1)  # named in the x label: a legend box hid points
    ax.set_xlabel(f"{rows[0]['metric']}: pretrained − scratch (points; dashed: scratch, random init)")
    ax.grid(axis="x", alpha=0.3)
    seeds = min(r["seeds"] for r in rows)
    return save_figure(fig, out, f"{task} ({arch}): objectives against scratch", seeds,
                       note="bars: 95% interval, paired bootstrap over dev examples and seeds; green/red: clear of 0",
                       spread=None)
