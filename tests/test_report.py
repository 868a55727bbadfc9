"""Report aggregation from fixture run folders (no training): means, spreads, ranks, budgets."""

import json

import pytest

from maskbench.report.tables import finetune_rows, find_summaries, pretrain_rows, write_report
from maskbench.train.flops import step_flops


def fake_run(folder, kind, **fields):
    folder.mkdir(parents=True)
    summary = {"kind": kind, **fields}
    (folder / "summary.json").write_text(json.dumps(summary))
    metric = fields.get("metric")
    lines = []
    for step in (0, 50, 100):
        if kind == "finetune":
            lines.append({"step": step, "split": "eval", "loss": 1.0, metric: fields["final_eval"][metric] * step / 100})
            lines.append({"step": step, "split": "train", "loss": 1.0 - step / 200})
        else:
            lines.append({"step": step, "split": "val", "loss": 9 - step / 50})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.fixture
def runs(tmp_path):
    for seed, (a, b, s) in enumerate([(80.0, 70.0, 60.0), (82.0, 71.0, 61.0)]):
        for obj, score in (("bart_infill", a), ("bart_rotate", b), ("scratch", s)):
            fake_run(tmp_path / f"ft-{obj}-{seed}", "finetune", task="sst2", objective=obj, init="pretrained",
                     arch="encoder_decoder", model="mini", seed=seed, metric="accuracy",
                     final_eval={"accuracy": score}, wall_s=10.0 + seed, params=100)
        for obj, loss in (("bart_infill", 3.0 + seed), ("bart_rotate", 2.0)):
            fake_run(tmp_path / f"pre-{obj}-{seed}", "pretrain", corruption=obj, arch="encoder_decoder",
                     model="mini", seed=seed, final_val_loss=loss, steps=100, tokens_seen=1000, params=100,
                     wall_s=5.0, flops=1e12, budget={"unit": "flops", "amount": 1e12})
    # a near tie: within the seed spread
    for seed, score in enumerate([69.5, 72.0]):
        fake_run(tmp_path / f"ft-mass-{seed}", "finetune", task="sst2", objective="mass_span", init="pretrained",
                 arch="encoder_decoder", model="mini", seed=seed, metric="accuracy",
                 final_eval={"accuracy": score}, wall_s=1.0, params=100)
    return tmp_path


@pytest.mark.parametrize("task, metric, first", [("qa", "f1", "bart_infill"), ("nli", "accuracy", "bart_mask")])
def test_bart_table_column_follows_the_metric(tmp_path, task, metric, first):
    """BART Table 1: SQuAD F1 ranks infilling (90.8) above masking (90.4), MNLI accuracy the other way (84.0 < 84.1)."""
    for obj in ("bart_infill", "bart_mask"):
        fake_run(tmp_path / obj, "finetune", task=task, objective=obj, init="pretrained", arch="encoder_decoder",
                 model="mini", seed=0, metric=metric, final_eval={metric: 50.0}, wall_s=1.0, params=100)
    by = {r["objective"]: r for r in finetune_rows(find_summaries([tmp_path]))}
    assert by[first]["bart_rank"] == 1 and sorted(r["bart_rank"] for r in by.values()) == [1, 2]


def test_means_spreads_and_ranks(runs):
    summaries = find_summaries([runs])
    ft = finetune_rows(summaries)
    by = {r["objective"]: r for r in ft}
    assert by["bart_infill"]["score"]["mean"] == pytest.approx(81.0) and by["bart_infill"]["score"]["spread"] == 2.0
    assert by["scratch"]["score"]["mean"] == pytest.approx(60.5)
    assert [r["objective"] for r in ft] == ["bart_infill", "mass_span", "bart_rotate", "scratch"]
    # seed-paired differences: infill - mass = (10.5, 10): separable; mass - rotate = (-0.5, 1): a tie
    assert not by["bart_infill"]["not_separable_from_next"] and by["bart_infill"]["gap_to_next"]["ci"] == [10.0, 10.5]
    assert by["mass_span"]["not_separable_from_next"] and by["mass_span"]["gap_to_next"]["ci"] == [-0.5, 1.0]
    assert [by[o]["rank"] for o in ("bart_infill", "mass_span", "bart_rotate", "scratch")] == [1, 2, 2, 3]
    # each objective against scratch, paired by seed: infill (20, 21), mass (9.5, 11), rotate (10, 10)
    assert by["bart_infill"]["vs_scratch"]["gap"] == 20.5 and by["bart_infill"]["vs_scratch"]["ci"] == [20.0, 21.0]
    assert by["mass_span"]["vs_scratch"]["ci"] == [9.5, 11.0] and by["mass_span"]["vs_scratch"]["separable"]
    assert "vs_scratch" not in by["scratch"]
    # BART Table 1 (MNLI column for sst2-like tasks): infill > mass > rotate; measured order agrees
    assert (by["bart_infill"]["bart_rank"], by["mass_span"]["bart_rank"], by["bart_rotate"]["bart_rank"]) == (1, 2, 3)
    assert by["bart_rotate"]["measured_bart_rank"] == 3
    pre = {r["objective"]: r for r in pretrain_rows(summaries)}
    assert pre["bart_infill"]["val_loss"]["mean"] == 3.5 and pre["bart_infill"]["val_loss"]["spread"] == 1.0
    assert pre["bart_rotate"]["budget"] == "1000000000000.0 flops"


def test_report_files(runs, tmp_path):
    out = tmp_path / "out"
    result = write_report([runs], out)
    md = (out / "report.md").read_text()
    assert "| sst2 | encoder_decoder | 1 | bart_infill | 2 | accuracy 81.00 ± 1.00 | +10.25 [+10.00, +10.50] |" in md
    assert "| sst2 | encoder_decoder | 2 ≈ | mass_span | 2 |" in md
    assert "≈" in md and "BART Table 1 rank" in md
    rows = (out / "report.csv").read_text().splitlines()
    assert rows[0].startswith("kind,task,objective") and len(rows) == 1 + 2 + 4
    assert "| +20.50 [+20.00, +21.00] |" in md  # infill against scratch
    for name in ("pretrain-loss.png", "finetune-sst2.png", "ranking-sst2.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert len(result["files"]) == 3


def test_ranking_plot_draws_every_objective_with_its_interval(runs, monkeypatch):
    from maskbench.report import ranking_plot

    drawn = {}
    monkeypatch.setattr(ranking_plot, "save_figure", lambda fig, out, title, seeds, **kw: drawn.update(
        fig=fig, title=title, seeds=seeds, kw=kw) or out)
    ft = finetune_rows(find_summaries([runs]))
    [path] = ranking_plot.plot_rankings(ft, runs / "out")
    assert path.name == "ranking-sst2.png" and drawn["seeds"] == 2 and "objectives against scratch" in drawn["title"]
    assert drawn["kw"]["spread"] is None and "95% interval" in drawn["kw"]["note"]  # not a min-max band
    ax = drawn["fig"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].startswith("bart_infill (rank 1") and len(labels) == 3  # best first; scratch is the 0 line
    bars = [c for c in ax.containers]  # one errorbar per objective, at its gap with its interval
    xs = sorted(float(b.lines[0].get_xdata()[0]) for b in bars)
    assert xs == pytest.approx([10.0, 10.25, 20.5])


def test_flops_formula_hand_count():
    # encoder only: 1 layer, d=2, ff=4, one sequence of 3 tokens, 1 head position, vocab 5
    layer = 2 * 2 * (4 * 2 + 2 * 4)        # 64 per token
    attn = 4 * 3 * 2                       # 24 per token
    fwd = 3 * (layer + attn) + 1 * 2 * 2 * 5
    assert step_flops(2, 4, 1, 0, 5, 1, 3, 0, 1) == 3 * fwd


def test_budget_matching_by_tokens_and_flops(tiny_overrides, tmp_path):
    from maskbench.config import load_config
    from maskbench.train.pretrain import run_pretrain

    runs = {}
    for name, arch in (("bert_mlm", "encoder"), ("bart_infill", "encoder_decoder")):
        for unit, amount in (("tokens", 3000), ("flops", 2e9)):
            cfg = load_config(tiny_overrides + [f"corruption={name}", f"arch={arch}", f"train.budget={amount}",
                                                f"train.budget_unit={unit}", f"run.dir={tmp_path / (name + unit)}"])
            runs[(name, unit)] = json.loads((run_pretrain(cfg) / "summary.json").read_text())
    # Tokens: the same number of text tokens for both objectives (8 blocks x 30 tokens per step).
    assert runs[("bert_mlm", "tokens")]["steps"] == runs[("bart_infill", "tokens")]["steps"] == round(3000 / 240)
    # FLOPs: the encoder-decoder costs more per step, so it gets fewer steps; totals match within a step.
    b, e = runs[("bert_mlm", "flops")], runs[("bart_infill", "flops")]
    assert e["steps"] < b["steps"]
    for r in (b, e):
        assert abs(r["flops"] - 2e9) <= r["budget"]["flops_per_step"]


def test_compare_summary_final_and_curve_gaps(tmp_path):
    from maskbench.report.compare_plot import compare_summary, plot_compare

    runs = []
    for seed in (0, 1):
        for label, final, early in (("pretrained", 80.0 + seed, 70.0), ("scratch", 79.0 + 2 * seed, 50.0)):
            d = tmp_path / f"{label}-s{seed}"
            d.mkdir()
            (d / "summary.json").write_text(json.dumps({"final_eval": {"accuracy": final}, "wall_s": 1.0}))
            ev = [(0, 50.0), (100, early), (200, final)]
            (d / "metrics.jsonl").write_text("".join(
                json.dumps({"step": s, "split": "eval", "accuracy": a}) + "\n" +
                json.dumps({"step": s, "split": "train", "loss": 1.0 / (s + 1)}) + "\n" for s, a in ev))
            runs.append((label, seed, d))
    s = compare_summary(runs, "accuracy", "sst2", "pre")
    assert s["pretrained"]["mean"] == 80.5 and s["scratch"]["mean"] == 80.0 and s["gap"] == 0.5
    # no per-example scores in these fixtures: the interval comes from the seeds' paired differences (1, 0)
    assert s["max_seed_spread"] == 2.0 and s["ci"] == [0.0, 1.0] and s["separable"] is False
    assert s["method"] == "bootstrap over seeds" and s["seeds"] == 2
    # mean over evaluations after step 0: pretrained (70+80)/2, (70+81)/2 ; scratch (50+79)/2, (50+81)/2
    assert s["curve_mean"]["gap"] == pytest.approx(75.25 - 65.0)
    assert s["curve_mean"]["separable"] is True and s["curve_mean"]["ci"] == [10.0, 10.5]
    png = plot_compare(runs, "accuracy", tmp_path / "c.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    flipped = [("scratch" if label == "pretrained" else "pretrained", seed, d) for label, seed, d in runs]
    f = compare_summary(flipped, "accuracy", "sst2", "pre")  # scratch ahead beyond the spread is a finding too
    assert f["curve_mean"]["gap"] == pytest.approx(65.0 - 75.25) and f["curve_mean"]["separable"] is True
    assert f["curve_mean"]["ci"] == [-10.5, -10.0]


def test_two_runs_of_one_config_get_their_folder_names_in_the_legend(tmp_path):
    import json as _json

    from maskbench.report.plots import run_labels

    runs = []
    for name in ("before", "after", "other"):
        run = tmp_path / name
        run.mkdir()
        corruption = "span_mlm" if name == "other" else "bert_mlm"
        (run / "summary.json").write_text(_json.dumps({"corruption": corruption, "arch": "encoder", "model": "mini",
                                                       "seed": 0}))
        runs.append(run)
    assert run_labels(runs) == ["bert_mlm / encoder / mini s0 (before)", "bert_mlm / encoder / mini s0 (after)",
                                "span_mlm / encoder / mini s0"]


def test_plot_x_axes_put_compute_on_the_x_axis(tiny_overrides, tmp_path):
    import json

    from maskbench.config import load_config
    from maskbench.errors import MaskbenchError
    from maskbench.report.plots import plot_runs, x_values
    from maskbench.runs.rundir import read_metrics
    from maskbench.train.pretrain import run_pretrain

    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    events = [e for e in read_metrics(run) if e["split"] == "val"]
    per_step = json.loads((run / "summary.json").read_text())["budget"]["flops_per_step"]
    assert x_values(run, events, "flops") == [e["step"] * per_step for e in events]
    assert x_values(run, events, "tokens") == [e["tokens"] for e in events]
    assert x_values(run, events, "seconds") == [e["elapsed_s"] for e in events]
    assert x_values(run, events, "seconds")[-1] > 0
    for x in ("steps", "tokens", "flops", "seconds"):
        assert plot_runs([run], tmp_path / f"{x}.png", x=x).stat().st_size > 10_000
    with pytest.raises(MaskbenchError, match="not an axis"):
        x_values(run, events, "epochs")
    (run / "summary.json").unlink()  # a run still going: no FLOPs per step yet
    with pytest.raises(MaskbenchError, match="--x steps, tokens or seconds"):
        x_values(run, events, "flops")


@pytest.mark.parametrize("axis, key", [("steps", "step"), ("tokens", "tokens"), ("flops", "flops"),
                                       ("seconds", "seconds")])
def test_budget_figure_puts_the_chosen_compute_on_the_x_axis(monkeypatch, tmp_path, axis, key):
    import maskbench.report.budget as budget

    rows = [{"step": s, "tokens": s * 4096, "flops": s * 1.5e10, "seconds": s * 0.3, "val_loss": 7.0 - s / 1000,
             "pretrained": 80.0 + s / 100, "scratch": 79.0, "gap": 1.0 + s / 100, "ci": [0.5, 1.5 + s / 100],
             "separable": True, "seeds": 3, "pretrained_values": [80.0, 80.5, 81.0], "extra": {}}
            for s in (100, 200, 400)]
    seen = {}
    monkeypatch.setattr(budget, "save_figure", lambda fig, out, title, seeds: seen.setdefault("fig", fig))
    budget.plot_budget(rows, "accuracy", tmp_path / "b.png", "t", [], x_axis=axis)
    gap_axis = seen["fig"].axes[1]
    assert gap_axis.get_xlabel() == budget.X_LABELS[axis][1]
    xs = list(gap_axis.lines[0].get_xdata()) if gap_axis.lines else []
    assert xs == [r[key] for r in rows]


def test_budget_figure_without_flops_says_so(tmp_path):
    from maskbench.errors import MaskbenchError
    from maskbench.report.budget import plot_budget

    rows = [{"step": 100, "tokens": 1, "flops": None, "seconds": 1.0, "val_loss": None, "pretrained": 1.0,
             "scratch": 1.0, "gap": 0.0, "ci": None, "separable": False, "seeds": 1, "pretrained_values": [1.0],
             "extra": {}}]
    with pytest.raises(MaskbenchError, match="compare.x=flops"):
        plot_budget(rows, "accuracy", tmp_path / "b.png", "t", [], x_axis="flops")
