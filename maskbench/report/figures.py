"""What every comparison figure shares: a headless matplotlib, a title that states the number of seeds,
and an atomic-enough save (parent folders made, figure closed)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def seeds_phrase(n: int) -> str:
    return "one seed" if n == 1 else f"{n} seeds"


def save_figure(fig, out: Path, title: str, seeds: int, note: str = "", spread: str | None = "band") -> Path:
    """Title with '(N seeds; note; band: min-max over seeds)', tight layout, save to `out` (folders made), close.
    `spread` names how the seed spread is drawn (band, whiskers), said only when there are several seeds;
    None where the figure draws no seed spread (its note then says what its error bars are)."""
    shown = spread is not None and seeds > 1
    parts = [seeds_phrase(seeds)] + ([note] if note else []) + ([f"{spread}: min-max over seeds"] if shown else [])
    text = f"{title}  ({'; '.join(parts)})"
    # Wrapped to the figure's width: a long run name must not push the title off the canvas.
    fig.suptitle(textwrap.fill(text, width=int(fig.get_figwidth() * 13)), fontsize=10)
    return write_figure(fig, out)


def write_figure(fig, out: Path) -> Path:
    """Tight layout, save to `out` (folders made), close: every figure maskbench writes ends here."""
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    pyplot().close(fig)
    return out
