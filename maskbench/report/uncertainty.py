"""Intervals for pretrained-vs-scratch gaps: a paired, two-level bootstrap.

A gap between two fine-tuning conditions has two sources of noise: which evaluation examples happen to
be in the dev set, and which seed (head init, data order, subset) a run drew. Each resample draws the
evaluation examples with replacement — the same draw for every run, because every run is scored on the
same examples (paired) — and the seeds with replacement — the same seed draw for both conditions,
because a pretrained and a scratch run with one seed share data order and subset. The gap of each
resample is mean-over-drawn-seeds(pretrained) - mean-over-drawn-seeds(scratch), each run's metric
recomputed as 100 * sum(numerator) / sum(denominator) over the drawn examples (so token accuracy weighs
sentences by their tokens, as the metric does). The interval is the 2.5-97.5 percentile range; a gap
whose interval covers 0 is "not separable". With one seed only the examples are resampled, and the
result says so.
"""

from __future__ import annotations

import json

import numpy as np
from maskbench.runs.layout import eval_units_path

LEVEL = 0.95


def read_units(run, extra: str | None = None) -> dict | None:
    """A run's per-example (numerator, denominator) of its main metric on its evaluation set, or on the
    task.extra_eval set `extra`; None where the run has none (older runs)."""
    f = eval_units_path(run)
    if not f.exists():
        return None
    units = json.loads(f.read_text())
    if extra is not None:
        units = (units.get("extra") or {}).get(extra) or {}
    return units if units.get("num") else None


def gap_interval(pretrained: list[dict], scratch: list[dict], n_boot: int = 2000, seed: int = 0) -> dict:
    """Gap pretrained - scratch with its interval. `pretrained[i]` and `scratch[i]` are the units of the
    runs with the i-th seed (same evaluation examples in the same order)."""
    if len(pretrained) != len(scratch) or not pretrained:
        raise ValueError("pretrained and scratch need one run per seed each")
    num = np.array([u["num"] for u in pretrained + scratch], dtype=np.float64)  # (2k, N)
    den = np.array([u["den"] for u in pretrained + scratch], dtype=np.float64)
    k, n = len(pretrained), num.shape[1]
    rng = np.random.default_rng(seed)
    gaps = []
    for start in range(0, n_boot, 256):  # chunks keep the (B, N) count matrix small for large dev sets
        b = min(256, n_boot - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)  # examples drawn
        metric = 100.0 * (counts @ num.T) / np.maximum(counts @ den.T, 1e-12)  # (b, 2k)
        pick = rng.integers(0, k, size=(b, k)) if k > 1 else np.zeros((b, 1), dtype=int)  # seeds drawn
        pre = np.take_along_axis(metric[:, :k], pick, axis=1).mean(1)
        scr = np.take_along_axis(metric[:, k:], pick, axis=1).mean(1)
        gaps.append(pre - scr)
    gaps = np.concatenate(gaps)
    point = _metric(num[:k], den[:k]).mean() - _metric(num[k:], den[k:]).mean()
    low, high = np.quantile(gaps, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return _with_verdict({"gap": round(float(point), 3), "ci": [round(float(low), 3), round(float(high), 3)],
                          "separable": bool(low > 0 or high < 0), "seeds": k,
                          "method": "paired bootstrap over eval examples" + (
                              " and seeds" if k > 1 else " (one seed: seed noise not included)")})


def proportion_interval(successes: int, n: int, z: float = 1.959963984540054) -> list[float] | None:
    """Wilson score interval (Wilson 1927) of a proportion, in percent: an accuracy over `n` independent items
    (zero-shot minimal pairs). Exact enough at every n and never outside [0, 100], unlike the normal approximation
    near 0% or 100%; None for n = 0."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * float(np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)
    return [round(100.0 * max(0.0, centre - half), 3), round(100.0 * min(1.0, centre + half), 3)]


def _with_verdict(part: dict) -> dict:
    return {**part, "verdict": verdict(part)}


def _metric(num, den):
    return 100.0 * num.sum(1) / np.maximum(den.sum(1), 1e-12)


def seed_interval(pretrained: list[float], scratch: list[float], n_boot: int = 2000, seed: int = 0) -> dict:
    """The fallback when runs lack per-example scores: bootstrap over the seeds' paired differences."""
    diffs = np.array(pretrained, dtype=np.float64) - np.array(scratch, dtype=np.float64)
    point = float(diffs.mean())
    if len(diffs) < 2:
        return _with_verdict({"gap": round(point, 3), "ci": None, "separable": None, "seeds": len(diffs),
                              "method": "one seed, no per-example scores: no interval"})
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(n_boot, len(diffs)))].mean(1)
    low, high = np.quantile(means, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return _with_verdict({"gap": round(point, 3), "ci": [round(float(low), 3), round(float(high), 3)],
                          "separable": bool(low > 0 or high < 0), "seeds": len(diffs), "method": "bootstrap over seeds"})


def gap_between(pre_runs: list, scr_runs: list, pre_values: list[float], scr_values: list[float],
                n_boot: int = 2000, extra: str | None = None) -> dict:
    """The gap of runs paired by seed: the two-level bootstrap where every run kept per-example scores."""
    pre_units, scr_units = [read_units(r, extra) for r in pre_runs], [read_units(r, extra) for r in scr_runs]
    units = pre_units + scr_units
    if all(u is not None for u in units) and len({len(u["num"]) for u in units}) == 1:
        return gap_interval(pre_units, scr_units, n_boot)
    return seed_interval(pre_values, scr_values, n_boot)


def verdict(part: dict) -> str:
    """One phrase for a gap with its interval."""
    if part.get("ci") is None:
        return "no interval (one seed)"
    low, high = part["ci"]
    if not part["separable"]:
        return f"not separable (95% interval {low:+.2f} to {high:+.2f} covers 0)"
    who = "pretrained" if part["gap"] > 0 else "scratch"
    return f"{who} ahead (95% interval {low:+.2f} to {high:+.2f})"
