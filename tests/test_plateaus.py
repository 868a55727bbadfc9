"""Plateau detection on synthetic validation curves with known plateaus, and its marks in plots and summaries."""

import json
import math

import matplotlib
import pytest

from maskbench.report.plateaus import find_plateaus, plateau_note

matplotlib.use("Agg")


def _curve(steps, fn):
    return [(s, fn(s)) for s in steps]


def false_convergence(s):
    """Fast drop to 6.5 by step 200, flat (tiny wiggle) until 800, a second drop to 5.0 by 1400, slower decline (1.9% per tenth of the run)."""
    wiggle = 0.02 * math.sin(s / 37)
    if s <= 200:
        return 9.0 - 2.5 * s / 200
    if s <= 800:
        return 6.5 + wiggle
    if s <= 1400:
        return 6.5 - 1.5 * (s - 800) / 600
    return 5.0 - 0.5 * (s - 1400) / 1600


def test_known_plateau_found_at_the_right_steps():
    pts = _curve(range(0, 3001, 100), false_convergence)
    found = find_plateaus(pts)
    assert len(found) == 1
    p = found[0]
    assert p["start_step"] == 200 and p["end_step"] == 900  # 900: the first evaluation below the band
    assert p["loss"] == pytest.approx(6.5, abs=0.03)


def test_steady_decline_and_short_pauses_are_not_plateaus():
    assert find_plateaus(_curve(range(0, 3001, 100), lambda s: 9.0 - 3.0 * s / 3000)) == []
    pause = lambda s: 8.0 - s / 500 if s < 1000 else (6.0 if s < 1150 else 6.0 - (s - 1150) / 500)  # noqa: E731
    assert find_plateaus(_curve(range(0, 3001, 50), pause)) == []  # 150 steps of 3,000: too short


def test_open_plateau_and_progress_note():
    pts = _curve(range(0, 701, 100), false_convergence)  # the run is still on the plateau
    found = find_plateaus(pts)
    assert found == [{"start_step": 200, "end_step": None, "loss": pytest.approx(6.5, abs=0.03)}]
    assert plateau_note(pts).startswith("plateau since step 200")
    assert plateau_note(_curve(range(0, 3001, 100), false_convergence)) == ""


def test_real_run_summary_and_plot_carry_plateaus(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from maskbench.report.plots import plot_runs

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "split": "val", "loss": v}) + "\n"
                                               for s, v in _curve(range(0, 3001, 100), false_convergence)))
    figures, save = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    plot_runs([run], tmp_path / "loss.png")
    labels = [h.get_label() for h in figures[-1].axes[0].get_legend_handles_labels()[0]]
    assert any(lab.startswith("plateau (val ≈ 6.5") for lab in labels) and "left the plateau" in labels


def test_a_slow_drift_is_one_plateau_not_many():
    """The validation curve of a real run (experiment=mini_30min, this code): after a fast drop the loss
    drifts from 6.75 to 6.55 over 1,900 steps (under 1% per window): one plateau, still open at the end."""
    curve = [(0, 8.996), (200, 7.128), (400, 6.974), (600, 6.905), (800, 6.840), (1000, 6.778), (1200, 6.747),
             (1400, 6.695), (1600, 6.683), (1800, 6.647), (2000, 6.635), (2200, 6.607), (2400, 6.602),
             (2600, 6.595), (2800, 6.564), (3000, 6.564), (3100, 6.553)]
    assert find_plateaus(curve) == [{"start_step": 1200, "end_step": None, "loss": pytest.approx(6.627, abs=0.01)}]


def test_electra_discriminator_is_measured_against_the_prior():
    from maskbench.inspect.plateau import prior_entropy, rtd_against_prior

    p = 0.137
    assert prior_entropy(p) == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    assert prior_entropy(0.5) == pytest.approx(math.log(2))
    assert prior_entropy(0.0) == 0.0
    evals = [{"step": 100, "rtd_loss": 0.40, "replaced_share": p}, {"step": 200, "loss": 5.0},
             {"step": 300, "rtd_loss": 0.30, "replaced_share": p}]
    rows = rtd_against_prior(evals)
    assert [r["step"] for r in rows] == [100, 300]
    assert rows[1]["gap"] == pytest.approx(0.30 - prior_entropy(p))
    assert rows[0]["gap"] > 0 > rows[1]["gap"]
