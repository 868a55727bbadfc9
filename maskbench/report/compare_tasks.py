"""One table and one figure over several compares (`compare.tasks`): for every task and every evaluation
set (its own, and each task.extra_eval set, e.g. zero-shot Chinese after English fine-tuning), the
pretrained model, each baseline and scratch, with the gap to scratch and its 95% interval."""

from __future__ import annotations

from maskbench.runs.layout import read_summary, write_summary
from pathlib import Path


def task_rows(summaries: list[dict], main_name: str = "pretrained") -> list[dict]:
    """Rows (task, eval set, model, mean, spread, values, gap to scratch, ci, separable)."""
    rows = []
    for s in summaries:
        sets = [("dev", s, {name: part for name, part in (s.get("baselines") or {}).items()})]
        for name, part in (s.get("extra_eval") or {}).items():
            sets.append((name, part, {b: bp["extra_eval"][name] for b, bp in (s.get("baselines") or {}).items()}))
        for eval_name, part, baselines in sets:
            models = [(main_name, part)] + list(baselines.items())
            for model, p in models:
                rows.append({"task": s["task"], "eval": eval_name, "metric": s["metric"], "model": model,
                             "mean": p["pretrained"]["mean"], "values": p["pretrained"]["values"],
                             "gap": p["gap"], "ci": p.get("ci"), "separable": p.get("separable")})
            rows.append({"task": s["task"], "eval": eval_name, "metric": s["metric"], "model": "scratch",
                         "mean": part["scratch"]["mean"], "values": part["scratch"]["values"], "gap": None,
                         "ci": None, "separable": None})
    return rows


def plot_task_rows(rows: list[dict], out: Path, title: str) -> Path:
    """Bars per (task, eval set): each model's mean over seeds, whiskers min-max over seeds; the gap to
    scratch with its interval written above each pretrained bar."""
    from maskbench.report.figures import pyplot, save_figure

    groups = list(dict.fromkeys((r["task"], r["eval"]) for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = pyplot().subplots(1, len(groups), figsize=(3.6 * len(groups) + 1, 4.2), dpi=120, squeeze=False)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728"]
    for ax, (task, ev) in zip(axes[0], groups):
        mine = [r for r in rows if (r["task"], r["eval"]) == (task, ev)]
        for i, model in enumerate(models):
            r = next((x for x in mine if x["model"] == model), None)
            if r is None:
                continue
            color = "#7f7f7f" if model == "scratch" else colors[i % len(colors)]
            ax.bar(i, r["mean"], color=color, alpha=0.85, hatch="//" if model == "scratch" else None)
            ax.errorbar(i, r["mean"], yerr=[[r["mean"] - min(r["values"])], [max(r["values"]) - r["mean"]]],
                        color="black", capsize=4, lw=1)
            if r["gap"] is not None and r["ci"]:
                ax.annotate(f"{r['gap']:+.1f}\n[{r['ci'][0]:+.1f}, {r['ci'][1]:+.1f}]", (i, max(r["values"])),
                            textcoords="offset points", xytext=(0, 4), ha="center", fontsize=7)
        lo = min(min(r["values"]) for r in mine)
        hi = max(max(r["values"]) for r in mine)
        ax.set_ylim(max(0, lo - (hi - lo) * 0.6 - 2), hi + (hi - lo) * 0.4 + 3)
        ax.set_xticks(range(len(models)), models, rotation=20, fontsize=8)
        ax.set_title(f"{task}: {ev}", fontsize=9)
        ax.set_ylabel(mine[0]["metric"])
        ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, out, title, len(rows[0]["values"]) if rows else 0,
                       "numbers: gap to scratch [95% interval]", spread="whiskers")


def write_task_results(outs: list[Path], folder: Path, title: str, console=None) -> dict:
    summaries = [read_summary(o) for o in outs]
    rows = task_rows(summaries)
    folder.mkdir(parents=True, exist_ok=True)
    result = {"compares": [str(o) for o in outs], "rows": rows}
    write_summary(folder, result)  # atomic: a reader never sees half of it
    plot_task_rows(rows, folder / "tasks.png", title)
    if console:
        from rich.table import Table

        from maskbench.report.uncertainty import verdict

        table = Table(title=title)
        for col in ("task", "evaluated on", "model", "mean", "per seed", "gap to scratch [95%]", "verdict"):
            table.add_column(col)
        for r in rows:
            gap = "" if r["gap"] is None else f"{r['gap']:+.2f}" + (f" [{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}]" if r["ci"] else "")
            table.add_row(r["task"], r["eval"], r["model"], f"{r['mean']:.2f}", ", ".join(f"{v:.2f}" for v in r["values"]),
                          gap, "" if r["gap"] is None else verdict(r).split(" (")[0])
        console.print(table)
        console.print(f"wrote {folder / 'tasks.png'}", markup=False)
    return result
