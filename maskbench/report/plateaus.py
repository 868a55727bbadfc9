"""Plateaus in a validation-loss curve: long stretches where the loss barely improves, and the step where
it started improving again ("false convergence" when it then drops).

The rule (docs/comparisons.md, "Plateaus"): at each evaluation after step 0, look back a window of a tenth
of the steps so far (at least two evaluation intervals). The run is *flat* there when the loss moved by
less than BAND (1%) of its value over that window. A plateau is a run of at least MIN_EVALS (3) flat
evaluations; it starts where the first one's window starts and ends at the first evaluation that is not
flat again (null while the run is still on it). A loss falling by more than 1% per tenth of the run is
never on a plateau; a short pause is not one either.
"""

from __future__ import annotations

import bisect
import statistics

BAND = 0.01
MIN_EVALS = 3
WINDOW = 0.10


def find_plateaus(points: list[tuple[int, float]], band: float = BAND, min_evals: int = MIN_EVALS,
                  window: float = WINDOW) -> list[dict]:
    """[{"start_step", "end_step" (None if still on it), "loss"}] of (step, validation loss) points."""
    pts = sorted((s, v) for s, v in points if s > 0 and v is not None)
    if len(pts) < min_evals + 1:
        return []
    steps, losses = [s for s, _ in pts], [v for _, v in pts]
    gap = statistics.median(b - a for a, b in zip(steps, steps[1:]))
    starts, flat = [], []
    for i, (step, loss) in enumerate(pts):
        back = max(window * step, 2 * gap)
        j = bisect.bisect_right(steps, step - back, hi=i) - 1  # the last evaluation at least `back` earlier
        j = j if j >= 0 else None
        starts.append(j)
        flat.append(j is not None and abs(losses[j] - loss) < band * abs(losses[j]))
    out, i = [], 0
    while i < len(pts):
        if not flat[i]:
            i += 1
            continue
        k = i
        while k + 1 < len(pts) and flat[k + 1]:
            k += 1
        if k - i + 1 >= min_evals:
            first = starts[i]
            out.append({"start_step": steps[first], "end_step": steps[k + 1] if k + 1 < len(pts) else None,
                        "loss": round(statistics.fmean(losses[first:k + 1]), 4)})
        i = k + 1
    return out


def plateau_note(points: list[tuple[int, float]]) -> str:
    """The progress line's note: where the current plateau began, or nothing."""
    found = find_plateaus(points)
    if found and found[-1]["end_step"] is None:
        return f"plateau since step {found[-1]['start_step']} (val ≈ {found[-1]['loss']:.2f})"
    return ""


def shade_plateaus(ax, plateaus: list[dict], last_step: int, color: str = "grey", label: bool = True) -> None:
    """Grey spans over each plateau, a dotted line where the loss left it."""
    for k, p in enumerate(plateaus):
        end = p["end_step"] if p["end_step"] is not None else last_step
        ax.axvspan(p["start_step"], end, color=color, alpha=0.12, lw=0,
                   label=f"plateau (val ≈ {p['loss']:.2f})" if label and k == 0 else None)
        if p["end_step"] is not None:
            ax.axvline(p["end_step"], color=color, ls=":", lw=1.2,
                       label="left the plateau" if label and k == 0 else None)
