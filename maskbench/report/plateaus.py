"""Plateaus in a validation-loss curve: long stretches where the loss stayed within a narrow band,
and the step where it left the band ("false convergence" when it then drops again).

The rule (docs/comparisons.md, "Plateaus"): scanning the evaluations in order (step 0, the untrained model, excluded),
a stretch starting at evaluation i extends while max - min of its losses stays within BAND (1%) of the
loss at i. It is a plateau when it holds at least MIN_EVALS (3) evaluations and spans at least
MIN_SPAN (10%) of the steps evaluated so far. Its end is the step of the first evaluation outside the
band (null while the run is still on it); the scan then resumes from that evaluation.
A loss still falling by more than 1% per tenth of the run is not on a plateau; one falling slower looks
converged, which is what a plateau is until the loss leaves it.
"""

from __future__ import annotations

import statistics

BAND = 0.01
MIN_EVALS = 3
MIN_SPAN = 0.10


def find_plateaus(points: list[tuple[int, float]], band: float = BAND, min_evals: int = MIN_EVALS,
                  min_span: float = MIN_SPAN) -> list[dict]:
    """[{"start_step", "end_step" (None if still on it), "loss"}] of (step, validation loss) points."""
    pts = sorted((s, v) for s, v in points if s > 0 and v is not None)
    if len(pts) < min_evals:
        return []
    steps, losses = [s for s, _ in pts], [v for _, v in pts]
    span_needed = min_span * steps[-1]
    out, i = [], 0
    while i < len(pts):
        lo = hi = losses[i]
        j = i
        while j + 1 < len(pts) and max(hi, losses[j + 1]) - min(lo, losses[j + 1]) <= band * abs(losses[i]):
            j += 1
            lo, hi = min(lo, losses[j]), max(hi, losses[j])
        if j - i + 1 >= min_evals and steps[j] - steps[i] >= span_needed:
            out.append({"start_step": steps[i], "end_step": steps[j + 1] if j + 1 < len(pts) else None,
                        "loss": round(statistics.fmean(losses[i:j + 1]), 4)})
            i = j + 1
        else:
            i += 1
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
