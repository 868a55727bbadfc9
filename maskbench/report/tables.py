"""`maskbench report`: the cross-run table from finished runs on disk (no torch).

Rows: objective x architecture (x task for fine-tuning), mean ± spread (max - min) over seeds, with
pretraining loss, tokens, model FLOPs, wall time and parameters. Where seeds >= 2, a difference from
the next row inside the seed spread is marked "≈". Beside the measured order stands the order BART's
Table 1 found (OBJECTIVES.md), so a reader sees where a small run agrees and where it does not. Every
pretrained row also has its gap to the from-scratch row of its task, with its interval, drawn as one
picture per task (report/ranking_plot.py).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from maskbench.runs.layout import SUMMARY
from collections import defaultdict
from pathlib import Path

# BART Table 1 (Lewis et al. 2019), SQuAD F1 / MNLI accuracy, by maskbench objective name.
BART_TABLE1 = {"bart_infill": (90.8, 84.0), "bart_mask": (90.4, 84.1), "bart_delete": (90.4, 84.1),
               "mass_span": (87.0, 82.1), "bart_permute": (85.4, 81.5), "bart_rotate": (77.2, 75.3)}
# Which of its columns a task's ranking is set against, by the metric the task reports: F1 is the SQuAD
# column, any accuracy the MNLI column.
BART_COLUMN_BY_METRIC = {"f1": 0, "exact_match": 0}


def find_summaries(dirs, warn=lambda msg: None) -> list[dict]:
    """Every maskbench summary.json under `dirs`; a foreign or broken one is skipped with one line."""
    out = []
    for d in map(Path, dirs):
        for f in sorted(d.rglob(SUMMARY)):
            try:
                s = json.loads(f.read_text())
            except (OSError, ValueError) as exc:
                warn(f"skipped {f}: not readable JSON ({str(exc)[:60]})")
                continue
            if not isinstance(s, dict) or s.get("kind") not in ("pretrain", "finetune"):
                warn(f"skipped {f}: not a maskbench run summary")
                continue
            s["_dir"] = str(f.parent)
            out.append(s)
    return out


def _agg(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "spread": None, "n": 0}
    return {"mean": statistics.fmean(values), "spread": (max(values) - min(values)) if len(values) > 1 else None,
            "n": len(values)}


def _fmt(a: dict, digits: int = 3) -> str:
    if a["mean"] is None:
        return "-"
    return f"{a['mean']:.{digits}f}" + (f" ± {a['spread'] / 2:.{digits}f}" if a["spread"] is not None else "")


def pretrain_rows(summaries) -> list[dict]:
    groups = defaultdict(list)
    for s in summaries:
        if s["kind"] == "pretrain":
            groups[(s["corruption"], s["arch"], s["model"])].append(s)
    rows = []
    for (obj, arch, model), runs in sorted(groups.items()):
        budget = runs[0].get("budget") or {}
        rows.append({"objective": obj, "arch": arch, "model": model, "seeds": len(runs),
                     "val_loss": _agg([r["final_val_loss"] for r in runs]),
                     "steps": runs[0]["steps"], "tokens": runs[0]["tokens_seen"], "flops": runs[0].get("flops"),
                     "wall_s": _agg([r["wall_s"] for r in runs]), "params": runs[0]["params"],
                     "budget": f"{budget.get('amount')} {budget.get('unit')}" if budget.get("amount") else
                     f"{runs[0]['steps']} steps", "dirs": [r["_dir"] for r in runs]})
    return rows


def finetune_rows(summaries) -> list[dict]:
    groups = defaultdict(list)
    for s in summaries:
        if s["kind"] == "finetune":
            groups[(s["task"], s.get("objective", s["init"]), s["arch"], s["model"])].append(s)
    rows = []
    for (task, obj, arch, model), runs in groups.items():
        metric = runs[0]["metric"]
        runs = sorted(runs, key=lambda r: r.get("seed", 0))
        rows.append({"task": task, "objective": obj, "arch": arch, "model": model, "metric": metric,
                     "seeds": len(runs), "score": _agg([r["final_eval"].get(metric) for r in runs]),
                     "values": [r["final_eval"].get(metric) for r in runs],
                     "wall_s": _agg([r["wall_s"] for r in runs]), "params": runs[0]["params"],
                     "dirs": [r["_dir"] for r in runs]})
    # Within each task: best first. Each row's gap to the next comes with its interval; rows whose gap
    # cannot be told from 0 share a tier (marked ≈), so a rank is only claimed where the intervals allow.
    rows.sort(key=lambda r: (r["task"], r["arch"], -(r["score"]["mean"] or -1e9)))
    ranks = defaultdict(list)
    for r in rows:
        ranks[(r["task"], r["arch"])].append(r)
    for group in ranks.values():
        tier = 1
        for a, b in zip(group, group[1:]):
            a["gap_to_next"] = _gap_to(a, b)
            a["not_separable_from_next"] = not a["gap_to_next"]["separable"]
        for i, r in enumerate(group):
            if i and not group[i - 1]["not_separable_from_next"]:
                tier += 1
            r["rank"] = tier
        for r in group:
            r["tied"] = sum(x["rank"] == r["rank"] for x in group) > 1
        scratch = next((r for r in group if r["objective"] == "scratch"), None)
        for r in group:  # every pretrained row against the group's from-scratch baseline
            if scratch is not None and r is not scratch:
                r["vs_scratch"] = _gap_to(r, scratch)
        present = [r for r in group if r["objective"] in BART_TABLE1]
        col = BART_COLUMN_BY_METRIC.get(group[0]["metric"], 1)
        for i, r in enumerate(sorted(present, key=lambda r: -BART_TABLE1[r["objective"]][col]), 1):
            r["bart_rank"] = i
        measured = sorted(present, key=lambda r: -(r["score"]["mean"] or -1e9))
        for i, r in enumerate(measured, 1):
            r["measured_bart_rank"] = i
    return rows


def _gap_to(a: dict, b: dict) -> dict:
    """a - b with its interval (report/uncertainty.py), pairing runs by seed order; separable=None (one seed
    without per-example scores) counts as not separable."""
    from maskbench.report.uncertainty import gap_between

    k = min(len(a["dirs"]), len(b["dirs"]))
    gap = gap_between(a["dirs"][:k], b["dirs"][:k], a["values"][:k], b["values"][:k])
    return {**gap, "separable": bool(gap["separable"])}


def _scratch_text(r: dict) -> str:
    g = r.get("vs_scratch")
    if not g:
        return ""
    return f"{g['gap']:+.2f}" + (f" [{g['ci'][0]:+.2f}, {g['ci'][1]:+.2f}]" if g["ci"] else "")


def _rank_text(r: dict) -> str:
    return f"{r['rank']}" + (" ≈" if r.get("tied") else "")


def _gap_text(r: dict) -> str:
    g = r.get("gap_to_next")
    if not g:
        return ""
    ci = f" [{g['ci'][0]:+.2f}, {g['ci'][1]:+.2f}]" if g["ci"] else " (no interval: one seed)"
    return f"{g['gap']:+.2f}{ci}"


def markdown(pre: list[dict], ft: list[dict]) -> str:
    out = io.StringIO()
    if pre:
        out.write("## Pretraining\n\n| objective | arch | model | seeds | final val loss (mean ± half-spread) | "
                  "budget | steps | tokens | model FLOPs | wall s | params |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
        for r in pre:
            flops = f"{r['flops']:.2e}" if r["flops"] else "-"
            out.write(f"| {r['objective']} | {r['arch']} | {r['model']} | {r['seeds']} | {_fmt(r['val_loss'])} | "
                      f"{r['budget']} | {r['steps']} | {r['tokens']:,} | {flops} | {_fmt(r['wall_s'], 0)} | "
                      f"{r['params']:,} |\n")
        out.write("\nValidation losses of different objectives predict different targets and are not comparable "
                  "across objectives; compare fine-tuning scores.\n\n")
    if ft:
        out.write("## Fine-tuning\n\n| task | arch | rank | objective | seeds | score (mean ± half-spread) | "
                  "gap to next row (95% interval) | vs scratch (95% interval) | BART Table 1 rank | wall s |\n"
                  "|---|---|---|---|---|---|---|---|---|---|\n")
        for r in ft:
            bart = f"{r['bart_rank']} (measured {r['measured_bart_rank']})" if "bart_rank" in r else ""
            out.write(f"| {r['task']} | {r['arch']} | {_rank_text(r)} | {r['objective']} | {r['seeds']} | "
                      f"{r['metric']} {_fmt(r['score'], 2)} | {_gap_text(r)} | {_scratch_text(r)} | {bart} | "
                      f"{_fmt(r['wall_s'], 0)} |\n")
        out.write("\nrank ≈: rows sharing a rank could not be told apart: the 95% interval of the gap between "
                  "neighbours covers 0 (paired bootstrap over evaluation examples and seeds, docs/comparisons.md). "
                  "BART Table 1 rank: the order the paper found among the BART-table objectives present "
                  "(SQuAD F1 for qa, MNLI otherwise), beside the order measured here.\n")
    return out.getvalue()


def csv_text(pre: list[dict], ft: list[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["kind", "task", "objective", "arch", "model", "seeds", "metric", "mean", "spread", "steps", "tokens",
                "flops", "wall_s", "params"])
    for r in pre:
        w.writerow(["pretrain", "", r["objective"], r["arch"], r["model"], r["seeds"], "val_loss",
                    r["val_loss"]["mean"], r["val_loss"]["spread"], r["steps"], r["tokens"], r["flops"],
                    r["wall_s"]["mean"], r["params"]])
    for r in ft:
        w.writerow(["finetune", r["task"], r["objective"], r["arch"], r["model"], r["seeds"], r["metric"],
                    r["score"]["mean"], r["score"]["spread"], "", "", "", r["wall_s"]["mean"], r["params"]])
    return out.getvalue()


def plot_finetune_curves(ft: list[dict], out_dir: Path) -> list[Path]:
    from maskbench.report.figures import pyplot, write_figure

    plt = pyplot()

    from maskbench.runs.rundir import read_metrics

    paths = []
    for task in sorted({r["task"] for r in ft}):
        fig, ax = plt.subplots(figsize=(8, 4.6), dpi=120)
        for i, r in enumerate(x for x in ft if x["task"] == task):
            curves = defaultdict(list)
            for d in r["dirs"]:
                for e in read_metrics(Path(d)):
                    if e["split"] == "eval" and r["metric"] in e:
                        curves[e["step"]].append(e[r["metric"]])
            steps = sorted(curves)
            style = "--" if r["objective"] == "scratch" else "-"
            ax.plot(steps, [statistics.fmean(curves[s]) for s in steps], style, marker="o", ms=3,
                    label=f"{r['objective']} ({r['arch']})")
        ax.set(xlabel="fine-tuning step", ylabel=f"eval {r['metric']}",
               title=f"{task}: fine-tuning curves by pretraining objective (mean over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths.append(write_figure(fig, out_dir / f"finetune-{task}.png"))
    return paths


def write_report(dirs, out_dir: Path, console=None) -> dict:
    from rich.markup import escape

    from maskbench.errors import MaskbenchError
    from maskbench.report.plots import plot_runs

    summaries = find_summaries(dirs, warn=(lambda m: console.print(f"[yellow]{escape(m)}[/]", highlight=False))
                               if console else (lambda m: None))
    if not summaries:
        raise MaskbenchError(f"no finished runs (summary.json) under {', '.join(map(str, dirs))}")
    pre, ft = pretrain_rows(summaries), finetune_rows(summaries)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = markdown(pre, ft)
    (out_dir / "report.md").write_text(md)
    (out_dir / "report.csv").write_text(csv_text(pre, ft))
    pngs = []
    if pre:
        pngs.append(plot_runs([Path(d) for r in pre for d in r["dirs"]], out_dir / "pretrain-loss.png",
                              title="pretraining loss by objective"))
    if ft:
        from maskbench.report.ranking_plot import plot_rankings

        pngs += plot_finetune_curves(ft, out_dir)
        pngs += plot_rankings(ft, out_dir)
    if console:
        print_tables(pre, ft, console)
        console.print(f"wrote {out_dir / 'report.md'}, report.csv, " + ", ".join(p.name for p in pngs), markup=False)
    return {"pretrain": pre, "finetune": ft, "files": [str(p) for p in pngs]}


def print_tables(pre, ft, console) -> None:
    from rich.table import Table

    if pre:
        t = Table(title="pretraining")
        for c in ("objective", "arch", "model", "seeds", "final val loss", "budget", "tokens", "wall s", "params"):
            t.add_column(c)
        for r in pre:
            t.add_row(r["objective"], r["arch"], r["model"], str(r["seeds"]), _fmt(r["val_loss"]), r["budget"],
                      f"{r['tokens']:,}", _fmt(r["wall_s"], 0), f"{r['params']:,}")
        console.print(t)
    if ft:
        t = Table(title="fine-tuning (rank ≈: not separable from its neighbour, 95% interval)")
        for c in ("task", "arch", "rank", "objective", "seeds", "score", "gap to next [95%]", "vs scratch [95%]",
                  "BART T1 rank"):
            t.add_column(c)
        for r in ft:
            bart = f"{r['bart_rank']} (here {r['measured_bart_rank']})" if "bart_rank" in r else ""
            t.add_row(r["task"], r["arch"], _rank_text(r), r["objective"], str(r["seeds"]),
                      f"{r['metric']} {_fmt(r['score'], 2)}", _gap_text(r), _scratch_text(r), bart)
        console.print(t)
