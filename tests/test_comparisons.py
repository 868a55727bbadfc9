"""Label-efficiency subsets, gap intervals, the comparison figures, and the compare grid end to end."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import matplotlib
import numpy as np
import pytest

from maskbench.config import load_config
from maskbench.tasks.subsets import count_examples, example_order, subset_features, subset_schedule
from maskbench.tasks.common import Feature
from maskbench.tasks.qa import QAFeature
from maskbench.report.label_efficiency import data_multiplier
from maskbench.report.uncertainty import gap_interval, seed_interval

matplotlib.use("Agg")


def _sentences(labels):
    return [Feature([1, 2, 3], [0, 0, 0], lab) for lab in labels]


def test_subsets_are_nested_seeded_and_balanced():
    feats = _sentences([0] * 300 + [1] * 100 + [2] * 600)  # skewed classes
    sizes = [30, 90, 300, 600]
    subsets = [subset_features(feats, n, seed=3, balanced=True) for n in sizes]
    ids = [{id(f) for f in s} for s in subsets]
    assert [len(s) for s in subsets] == sizes
    assert all(a < b for a, b in zip(ids, ids[1:]))  # nested: each subset inside the next
    assert Counter(f.label for f in subsets[0]) == {0: 10, 1: 10, 2: 10}
    # class 1 runs out at 100: the 600-subset holds all of it and splits the rest evenly
    assert Counter(f.label for f in subsets[3]) == {0: 250, 1: 100, 2: 250}
    again = {id(f) for f in subset_features(feats, 90, seed=3, balanced=True)}
    other = {id(f) for f in subset_features(feats, 90, seed=4, balanced=True)}
    assert again == ids[1] and other != ids[1]
    assert len(subset_features(feats, None, 0, True)) == len(subset_features(feats, 5000, 0, True)) == 1000
    assert sorted(example_order(50, 1)) == list(range(50))


def test_qa_subsets_count_questions_with_all_their_windows():
    feats = [QAFeature([1], [0], (0, 0), example=e, offsets=[]) for e in range(20) for _ in range(1 + e % 3)]
    sub = subset_features(feats, 5, seed=0, balanced=True, example_ids=[f.example for f in feats])
    chosen = {f.example for f in sub}
    assert len(chosen) == 5 == count_examples(sub, [f.example for f in sub])
    assert len(sub) == sum(1 + e % 3 for e in chosen)  # every window of a chosen question


def test_subset_schedule_rule():
    assert subset_schedule(600, 100, 6920, 6920, 50) == (600, 100)
    steps, every = subset_schedule(600, 100, 100, 6920, 50)
    assert steps == 72 and every == 12  # 600 * sqrt(100/6920) = 72.1; six evaluations as in the full run
    assert subset_schedule(600, 100, 10, 6920, 50)[0] == 50  # at least subset_min_steps
    assert subset_schedule(40, 10, 10, 6920, 50)[0] == 40  # never more than max_steps
    # The epoch floor: 1,000 of 15,361 reviews with max_steps 300 -> sqrt gives 77 steps (2.5 epochs at batch 32);
    # five epochs are 157 steps.
    assert subset_schedule(300, 50, 1000, 15361, 50)[0] == 77
    assert subset_schedule(300, 50, 1000, 15361, 50, min_epochs=5, batch_size=32) == (157, 27)
    assert subset_schedule(120, 50, 1000, 15361, 50, min_epochs=5, batch_size=32)[0] == 120  # max_steps still caps
    # Where sqrt already gives more (SST-2 subsets of the 600-step schedule), nothing changes.
    assert [subset_schedule(600, 100, n, 6920, 50, 5, 32)[0] for n in (100, 300, 1000)] == [72, 125, 228]


def _units(correct):
    return {"num": [int(c) for c in correct], "den": [1] * len(correct)}


def test_interval_identical_runs_not_separable():
    rng = np.random.default_rng(0)
    a = _units(rng.random(400) < 0.7)
    r = gap_interval([a], [a], n_boot=500)
    assert r["gap"] == 0 and r["ci"] == [0.0, 0.0] and r["separable"] is False
    assert r["verdict"].startswith("not separable")
    assert "one seed" in r["method"]


def test_interval_matches_the_paired_binomial_width():
    """Pretrained right on 80% of 2,000 examples, scratch on 70%, independently: the paired difference
    has sd sqrt((p1(1-p1) + p2(1-p2) - 2 cov) / n); the bootstrap's 95% interval is +-1.96 sd around 10."""
    rng = np.random.default_rng(1)
    n = 2000
    pre, scr = rng.random(n) < 0.8, rng.random(n) < 0.7
    r = gap_interval([_units(pre)], [_units(scr)], n_boot=2000)
    d = 100.0 * (pre.astype(float) - scr.astype(float))
    half = 1.96 * d.std() / np.sqrt(n)
    assert r["gap"] == pytest.approx(d.mean(), abs=1e-3)
    assert r["ci"][0] == pytest.approx(d.mean() - half, abs=0.35)
    assert r["ci"][1] == pytest.approx(d.mean() + half, abs=0.35)
    assert r["separable"] is True


def test_seed_noise_widens_the_interval():
    rng = np.random.default_rng(2)
    base = rng.random(1000) < 0.75
    flip = rng.random(1000) < 0.1  # a second pretrained seed that differs on 10% of the examples
    one = gap_interval([_units(base)], [_units(base)], n_boot=1000)
    two = gap_interval([_units(base), _units(base ^ flip)], [_units(base), _units(base)], n_boot=1000)
    assert (two["ci"][1] - two["ci"][0]) > (one["ci"][1] - one["ci"][0]) + 1.0
    assert two["seeds"] == 2 and "and seeds" in two["method"]


def test_token_accuracy_units_weigh_sentences_by_tokens():
    pre = {"num": [10, 0], "den": [10, 1]}   # 10 of 11 tokens right
    scr = {"num": [0, 1], "den": [10, 1]}    # 1 of 11
    r = gap_interval([pre], [scr], n_boot=200)
    assert r["gap"] == pytest.approx(100 * (10 - 1) / 11, abs=1e-3)


def test_seed_interval_fallback():
    r = seed_interval([80.0, 82.0, 81.0], [79.0, 79.5, 80.0])
    assert r["gap"] == pytest.approx(1.5) and r["ci"][0] > 0 and r["separable"] is True
    assert seed_interval([80.0], [79.0])["ci"] is None


def test_data_multiplier():
    sizes, scratch = [100, 300, 1000, 3000], [60.0, 70.0, 80.0, 85.0]
    assert data_multiplier(sizes, scratch, 70.0, 100) == pytest.approx(3.0)
    # 75 lies halfway between 300 and 1000 in log space: sqrt(300 * 1000) = 547.7 labels
    assert data_multiplier(sizes, scratch, 75.0, 100) == pytest.approx(5.48, abs=0.01)
    assert data_multiplier(sizes, scratch, 90.0, 100) == "more than all"
    assert data_multiplier(sizes, scratch, 55.0, 300) == "at most 0.333"


@pytest.fixture
def saved_figures(monkeypatch):
    """Every figure the code under test saves, for asserting on what it drew."""
    from matplotlib.figure import Figure

    figures, save = [], Figure.savefig

    def capture(self, *a, **k):
        figures.append(self)
        return save(self, *a, **k)

    monkeypatch.setattr(Figure, "savefig", capture)
    return figures


def _fake_run(folder, accuracy_by_step, loss=1.0):
    folder.mkdir(parents=True)
    lines = [json.dumps({"step": s, "split": "eval", "accuracy": a}) for s, a in accuracy_by_step]
    lines += [json.dumps({"step": s, "split": "train", "loss": loss / (s + 1)}) for s, _ in accuracy_by_step]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text(json.dumps({"final_eval": {"accuracy": accuracy_by_step[-1][1]},
                                                     "wall_s": 1.0}))
    return folder


def test_compare_figure_draws_bands_and_says_seeds(tmp_path, saved_figures):
    from maskbench.report.compare_plot import plot_compare

    runs = [(label, seed, _fake_run(tmp_path / f"{label}{seed}", [(0, 50.0), (10, base + seed), (20, base + 2 * seed)]))
            for seed in (0, 1, 2) for label, base in (("pretrained", 80.0), ("scratch", 70.0))]
    plot_compare(runs, "accuracy", tmp_path / "c.png", title="sst2")
    fig = saved_figures[-1]
    assert "3 seeds" in fig._suptitle.get_text() and "band" in fig._suptitle.get_text()
    ax_metric = fig.axes[1]
    bands = [c for c in ax_metric.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert len(bands) == 2  # one band per init
    means = {line.get_label(): list(line.get_ydata()) for line in ax_metric.get_lines()}
    assert means["pretrained (mean)"] == pytest.approx([50.0, 81.0, 82.0])  # mean over seeds, step 0 kept
    plot_compare(runs[:2], "accuracy", tmp_path / "one.png", title="sst2")
    assert "one seed" in saved_figures[-1]._suptitle.get_text()
    # step 0 (50) lies below the zoomed range (80-84): marked on the axis, its value written in a corner
    assert ax_metric.get_ylim()[0] > 50
    assert any(t.get_text() == "step 0 (▼): pretrained 50.0, scratch 50.0" for t in ax_metric.texts)
    plot_compare(runs, "accuracy", tmp_path / "long.png", title="sst2: pretrained (" + "x" * 120 + ") vs scratch")
    assert all(len(line) <= 11 * 13 for line in saved_figures[-1]._suptitle.get_text().splitlines())  # wrapped


def test_label_efficiency_figure(tmp_path, saved_figures):
    from maskbench.report.label_efficiency import label_efficiency_rows, plot_label_efficiency

    groups = [{"train_size": n, "all": n == 1000, "pretrained": [p, p + 2], "scratch": [s, s + 1],
               "interval": {"gap": p - s + 0.5, "ci": [p - s - 2, p - s + 3], "separable": p - s > 2}}
              for n, p, s in ((100, 70.0, 55.0), (300, 75.0, 65.0), (1000, 80.0, 79.0))]
    rows = label_efficiency_rows(groups)
    assert [r["train_size"] for r in rows] == [100, 300, 1000] and rows[0]["pretrained"] == 71.0
    assert rows[0]["scratch"] == 55.5 and rows[0]["ci"] == [13.0, 18.0]
    assert isinstance(rows[0]["multiplier"], float) and 3 < rows[0]["multiplier"] < 10
    plot_label_efficiency(rows, "accuracy", tmp_path / "le.png", "sst2")
    fig = saved_figures[-1]
    assert fig.axes[0].get_xscale() == "log" and "2 seeds" in fig._suptitle.get_text()
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles["pretrained"] == "-" and styles["scratch"] == "--"
    assert len(fig.axes[0].collections) == 2  # bands
    assert (tmp_path / "le.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def tiny_pretrained(tiny_overrides, tmp_path_factory):
    from maskbench.train.pretrain import run_pretrain

    folder = tmp_path_factory.mktemp("pre") / "run"
    return run_pretrain(load_config(tiny_overrides + [f"run.dir={folder}", "train.max_steps=6", "train.ckpt_every=2",
                                                     "train.keep_checkpoints=5", "train.eval_every=2"]))


def test_compare_grid_sizes_and_checkpoints(tiny_overrides, tiny_pretrained, tmp_path):
    from test_finetune import ft_overrides, write_tasks

    from maskbench.train.compare import run_compare

    files = write_tasks(tmp_path)
    over = ft_overrides(tiny_overrides, "sst2", files, "encoder") + [
        f"compare.init={tiny_pretrained}", "compare.seeds=[0,1]", "compare.train_sizes=[10,all]",
        "compare.checkpoints=all", "compare.bootstrap=200", "train.max_steps=8", "train.eval_every=4",
        "train.subset_min_steps=4", "train.subset_min_epochs=0", f"run.dir={tmp_path / 'cmp'}",
        f"task.extra_eval=[{{name: copy, file: '{files['sst2'][1].split('=', 1)[1]}'}}]"]
    out = run_compare(load_config(over, root="finetune"))
    s = json.loads((out / "summary.json").read_text())
    le = s["label_efficiency"]
    assert [r["train_size"] for r in le] == [10, 40] and [r["all"] for r in le] == [False, True]
    for r in le:
        assert set(r) >= {"train_size", "pretrained", "scratch", "gap", "ci", "multiplier"}
        assert r["ci"][0] <= r["gap"] <= r["ci"][1] and r["seeds"] == 2
    # an extra evaluation set that is a copy of the main one gives the same gap and interval
    assert s["extra_eval"]["copy"]["gap"] == s["gap"] and s["extra_eval"]["copy"]["ci"] == s["ci"]
    assert all(b["extra"]["copy"]["gap"] == b["gap"] for b in s["budget"])  # the budget rows carry it too
    assert [b["step"] for b in s["budget"]] == [2, 4, 6]
    assert all(b["tokens"] > 0 and b["val_loss"] is not None and len(b["ci"]) == 2 for b in s["budget"])
    for name in ("compare.png", "label_efficiency.png", "budget.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    # a subset run: the scaled schedule, the same examples for pretrained and scratch of one seed
    p = json.loads((out / "pretrained-step6-n10-s1" / "summary.json").read_text())
    q = json.loads((out / "scratch-n10-s1" / "summary.json").read_text())
    assert p["train_examples"] == q["train_examples"] == 10 and p["steps"] == q["steps"] == 4
    assert p["tokens_seen"] == q["tokens_seen"]
    units = json.loads((out / "scratch-n10-s1" / "eval_units.json").read_text())
    assert len(units["num"]) == 40 and set(units["num"]) <= {0, 1} and units["metric"] == "accuracy"
    # scratch runs once per seed and size, not once per checkpoint
    assert len([d for d in out.iterdir() if d.name.startswith("scratch")]) == 4
    assert len([d for d in out.iterdir() if d.name.startswith("pretrained")]) == 12


def test_compare_run_again_continues_only_the_unfinished_run(tiny_overrides, tiny_pretrained, tmp_path):
    from test_finetune import ft_overrides, write_tasks

    from maskbench.train.compare import run_compare

    files = write_tasks(tmp_path)
    over = ft_overrides(tiny_overrides, "sst2", files, "encoder") + [
        f"compare.init={tiny_pretrained}", "compare.seeds=[0]", "compare.bootstrap=200", "train.max_steps=6",
        "train.eval_every=3", "train.ckpt_every=3", f"run.dir={tmp_path / 'cmp'}"]
    out = run_compare(load_config(over, root="finetune"))
    done, cut = out / "pretrained-s0", out / "scratch-s0"
    stamp = (done / "summary.json").stat().st_mtime_ns
    full = (cut / "metrics.jsonl").read_text()
    # Simulate a kill of the scratch run after step 3: its final checkpoint and summary never got written.
    shutil.rmtree(cut / "checkpoints" / "final")
    (cut / "summary.json").unlink()
    run_compare(load_config(over, root="finetune"))  # no train.resume: the compare continues its own runs
    assert (done / "summary.json").stat().st_mtime_ns == stamp  # the finished run is not redone
    assert json.loads((cut / "summary.json").read_text())["steps"] == 6
    assert (cut / "metrics.jsonl").read_text().count('"split": "eval"') == full.count('"split": "eval"')


@pytest.mark.parametrize("over, needle", [
    ("compare.train_sizes=[0,all]", "compare.train_sizes"), ("compare.train_sizes=[ten]", "compare.train_sizes"),
    ("compare.checkpoints=some", "compare.checkpoints"), ("compare.seeds=3", "compare.seeds"),
    ("compare.bootstrap=5", "compare.bootstrap"), ("task.train_size=0", "task.train_size")])
def test_compare_options_are_checked(over, needle):
    from maskbench.errors import MaskbenchError

    with pytest.raises(MaskbenchError, match=needle):
        load_config([over], root="finetune")


def test_missing_checkpoint_step_names_the_ones_there(tiny_pretrained):
    from maskbench.errors import MaskbenchError
    from maskbench.train.compare import checkpoint_points

    with pytest.raises(MaskbenchError, match="no checkpoint at step 5; it has 2, 4, 6"):
        checkpoint_points(tiny_pretrained, [2, 5])
    assert [s for s, _ in checkpoint_points(tiny_pretrained, [4, 2])] == [2, 4]


def test_compare_tasks_with_a_baseline_and_zero_shot_sets(tiny_overrides, tiny_pretrained, tmp_path, monkeypatch,
                                                         saved_figures):
    """compare.tasks runs one compare per task (user task configs from ./conf), each with a baseline model and
    an extra evaluation set, then one table: every model on every evaluation set, gaps to scratch."""
    from test_finetune import ZH_CONLLU, ft_overrides, write_tasks

    from maskbench.train.compare import run_compare_tasks

    files = write_tasks(tmp_path)
    zh = tmp_path / "zh.conllu"
    zh.write_text(ZH_CONLLU, encoding="utf-8")
    (tmp_path / "conf" / "task").mkdir(parents=True)
    sst, pos = files["sst2"][0].split("=", 1)[1], files["pos"][0].split("=", 1)[1]
    (tmp_path / "conf" / "task" / "t_sst.yaml").write_text(
        f"defaults: [sst2, _self_]\nname: t_sst\ntrain_file: {sst}\neval_file: {sst}\n")
    (tmp_path / "conf" / "task" / "t_pos.yaml").write_text(
        f"defaults: [pos, _self_]\nname: t_pos\ntrain_file: {pos}\neval_file: {pos}\nformat: conll\nword_column: 0\n"
        f"tag_column: 1\nextra_eval: [{{name: zh, file: '{zh}', format: conllu, word_column: 1, tag_column: 3}}]\n")
    monkeypatch.chdir(tmp_path)
    common = [o for o in ft_overrides(tiny_overrides, "sst2", files, "encoder") if not o.startswith("task")]
    over = common + [f"compare.init={tiny_pretrained}", f"compare.baselines={{other: '{tiny_pretrained}'}}",
                     "compare.tasks=[t_sst,t_pos]", "compare.seeds=[0,1]", "compare.bootstrap=200",
                     "train.max_steps=6", "train.eval_every=3", f"run.dir={tmp_path / 'xl'}"]
    folder = run_compare_tasks(over)
    result = json.loads((folder / "summary.json").read_text())
    got = {(r["task"], r["eval"], r["model"]) for r in result["rows"]}
    assert got == {(t, e, m) for t, e in (("t_sst", "dev"), ("t_pos", "dev"), ("t_pos", "zh"))
                   for m in ("pretrained", "other", "scratch")}
    # the baseline is the same run as the pretrained model here: identical scores, gaps and intervals
    by = {(r["task"], r["eval"], r["model"]): r for r in result["rows"]}
    for t, e in (("t_sst", "dev"), ("t_pos", "zh")):
        assert by[(t, e, "other")]["values"] == by[(t, e, "pretrained")]["values"]
        assert by[(t, e, "other")]["ci"] == by[(t, e, "pretrained")]["ci"] and by[(t, e, "scratch")]["gap"] is None
    assert (folder / "tasks.png").read_bytes()[:4] == b"\x89PNG" and (folder / "t_pos" / "compare.png").exists()
    assert "2 seeds" in saved_figures[-1]._suptitle.get_text()
