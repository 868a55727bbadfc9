"""The guarantee of every command: a refused input is one line (exit 2); anything else is a bug, shown as one
`internal error` line naming its crash file (exit 70), the traceback only with MASKBENCH_DEBUG=1. And the inputs
of issue 33 that ended in a traceback or a silently wrong number, each now one line or a correct result."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from maskbench.cli import app
from maskbench.config import load_config
from maskbench.errors import MaskbenchError

RUNNER = CliRunner()


def one_line(result, code: int = 2) -> str:
    err = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, err, repr(result.exception))
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def crashing(monkeypatch, tmp_path):
    """`config list` raising a bug (a KeyError from deep inside), the cache folder in tmp_path."""
    import maskbench.config
    from maskbench import crash

    monkeypatch.setenv("MASKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(crash, "_cache", [])  # no cache folder used yet in this process (other tests use theirs)
    monkeypatch.setattr(crash, "_runs", [])

    def broken(*a, **k):
        raise KeyError("weight_map")
    monkeypatch.setattr(maskbench.config, "available_groups", broken)


def test_a_bug_is_one_line_naming_its_crash_file(crashing, tmp_path):
    err = one_line(RUNNER.invoke(app, ["config", "list"]), code=70)
    assert err.startswith("internal error: KeyError: 'weight_map' — details in ") and err.endswith("please report it")
    crash = next((tmp_path / "cache").glob("crash-*.log"))
    assert str(crash) in err
    text = crash.read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'weight_map'" in text and "command: " in text


def test_maskbench_debug_shows_the_traceback_instead(crashing, monkeypatch, tmp_path):
    monkeypatch.setenv("MASKBENCH_DEBUG", "1")
    result = RUNNER.invoke(app, ["config", "list"])
    assert isinstance(result.exception, KeyError)  # raised on: the interpreter prints its traceback
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("crash-*.log"))


def test_a_crash_inside_a_run_is_reported_into_its_folder(tmp_path, monkeypatch):
    from maskbench import crash
    from maskbench.runs.lock import run_lock

    monkeypatch.setattr(crash, "_cache", [])  # no cache folder used yet in this process

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")
    with run_lock(run):
        path = crash.write_report(ValueError("boom"), ["maskbench", "pretrain"], fallback=lambda: tmp_path / "c")
    assert path.parent == run and "ValueError: boom" in path.read_text()
    empty = tmp_path / "empty"  # a run folder with nothing yet: a report would make it look partial
    with run_lock(empty):
        assert crash.write_report(ValueError("x"), [], fallback=lambda: tmp_path).parent == tmp_path


def test_the_crash_line_never_passes_on_torchs_weights_only_advice():
    from maskbench import crash

    exc = RuntimeError("Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will "
                       "likely succeed, but it can result in arbitrary code execution.")
    line = crash.summary_line(exc, None)
    assert "weights_only" not in line and "False" not in line and line.startswith("internal error: RuntimeError: ")


# ------------------------------------------------------------------ the six inputs named last round
@pytest.fixture(scope="module")
def hf_folder(corpus_file, tmp_path_factory):
    pytest.importorskip("transformers")
    from hf_models import bert_folder

    return bert_folder(corpus_file, tmp_path_factory.mktemp("hf") / "bert")


def _without_weights(folder, tmp_path):
    import shutil

    out = tmp_path / "model"
    shutil.copytree(folder, out)
    for name in ("model.safetensors", "pytorch_model.bin"):
        (out / name).unlink(missing_ok=True)
    return out


def test_a_sharded_index_without_weight_map_is_one_line(hf_folder, tmp_path):
    folder = _without_weights(hf_folder, tmp_path)
    (folder / "model.safetensors.index.json").write_text('{"metadata": {}}')
    err = one_line(RUNNER.invoke(app, ["fill", str(folder), "a [MASK] b"]))
    assert "has no weight_map" in err
    (folder / "model.safetensors.index.json").write_text('{"weight_map": {"a": "shard-1.safetensors"}}')
    assert "names shard shard-1.safetensors, which is not in the folder" in one_line(
        RUNNER.invoke(app, ["fill", str(folder), "a [MASK] b"]))


def test_a_garbage_pytorch_model_bin_is_one_line_without_unsafe_advice(hf_folder, tmp_path):
    folder = _without_weights(hf_folder, tmp_path)
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04garbage" * 40)
    err = one_line(RUNNER.invoke(app, ["fill", str(folder), "a [MASK] b"]))
    assert "pytorch_model.bin" in err and "weights_only" not in err and "nothing in it was run" in err
    for cmd in (["export", str(folder), "-o", str(tmp_path / "out")], ["probe", str(folder)]):
        err = one_line(RUNNER.invoke(app, cmd))
        assert "weights_only" not in err


def test_wandb_without_a_key_is_one_line(monkeypatch, tmp_path):
    pytest.importorskip("wandb")
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(MaskbenchError, match="W&B has no API key: run `wandb login`, set WANDB_API_KEY"):
        load_config(["run.loggers=[jsonl,wandb]"])
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert load_config(["run.loggers=[jsonl,wandb]"]).run.loggers == ["jsonl", "wandb"]


def test_undecodable_bytes_in_any_argument_are_one_line(tiny_run):
    proc = subprocess.run([sys.executable, "-m", "maskbench", "fill", str(tiny_run), b"a \xff\xfe [MASK]"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not UTF-8 (0xff after 'a ')" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "not UTF-8" in one_line(RUNNER.invoke(app, ["probe", str(tiny_run), "--word", "\udcff"]))


@pytest.mark.parametrize("seed", [2 ** 64 + 1, 2 ** 63, -1])
def test_a_seed_beyond_64_bits_is_one_line(seed):
    err = one_line(RUNNER.invoke(app, ["config", "show", f"seed={seed}"]))
    assert "must be an integer in [0, 2**63)" in err


def test_the_largest_seed_trains(tiny_overrides, tmp_path):
    from maskbench.train.pretrain import run_pretrain

    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}", f"seed={2 ** 63 - 1}",
                                                     "train.max_steps=2"]))
    assert json.loads((run / "summary.json").read_text())["seed"] == 2 ** 63 - 1


def test_plot_to_a_file_that_is_no_image_is_one_line(tiny_run, tmp_path):
    err = one_line(RUNNER.invoke(app, ["plot", str(tiny_run), "-o", str(tmp_path / "loss.txt")]))
    assert ".txt is not an image format" in err and "loss.png" in err
    assert not (tmp_path / "loss.txt").exists()


def test_a_file_where_a_folder_is_needed_is_named_as_such(tiny_run, tmp_path):
    """mkdir's 'File exists' (and 'Not a directory') said nothing of the cause."""
    (tmp_path / "notes.txt").write_text("")
    for out, named in ((tmp_path / "notes.txt" / "loss.png", tmp_path / "notes.txt"),
                       (tmp_path / "notes.txt" / "sub" / "loss.png", tmp_path / "notes.txt" / "sub")):
        err = one_line(RUNNER.invoke(app, ["plot", str(tiny_run), "-o", str(out)]))
        assert f"cannot use {named}: a file is there where a folder is needed" in err, err


@pytest.fixture(scope="module")
def tiny_run(tiny_overrides, tmp_path_factory):
    from maskbench.train.pretrain import run_pretrain

    return run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path_factory.mktemp('g') / 'r'}",
                                                      "train.max_steps=2"]))


# ------------------------------------------------------------------ no silent number
@pytest.mark.parametrize("over, needle", [
    (["corruption.mask_schedule=linear", "corruption.mask_prob_end=0"], "corruption.mask_prob_end=0 corrupts nothing"),
    (["corruption.mask_prob=0"], "corruption.mask_prob=0 corrupts nothing"),
    (["corruption=t5_span", "corruption.noise_density=0"], "corruption.noise_density=0 corrupts nothing"),
    (["corruption=bart_mask", "corruption.mask_prob=0"], "corruption.mask_prob=0 corrupts nothing"),
])
def test_rates_that_mask_nothing_are_refused(over, needle):
    with pytest.raises(MaskbenchError, match=needle.replace(".", r"\.")):
        load_config(over)
    assert load_config(["corruption=bart_permute"]).corruption.mask_prob == 0.0  # it permutes instead


@pytest.mark.parametrize("group", ["train", "model", "data", "runtime", "run", "arch"])
def test_a_removed_group_is_refused_not_refilled(group):
    with pytest.raises(MaskbenchError, match=f"the config has no {group} group"):
        load_config([f"~{group}"])
    with pytest.raises(MaskbenchError, match="the config has no compare group"):
        load_config(["task=sst2", "~compare"], root="finetune")


@pytest.mark.parametrize("unit", ["tokens", "flops"])
def test_finetune_refuses_a_budget_it_cannot_count(unit):
    with pytest.raises(MaskbenchError, match=f"train.budget_unit={unit} is a pretraining budget"):
        load_config(["task=sst2", "train.budget=1000", f"train.budget_unit={unit}"], root="finetune")


def test_finetune_honours_a_budget_in_steps(tiny_overrides, tmp_path):
    from maskbench.train.finetune import run_finetune

    sst = tmp_path / "sst.tsv"
    sst.write_text("sentence\tlabel\n" + "".join(f"the river film {i}\t{i % 2}\n" for i in range(8)))
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    run = run_finetune(load_config(common + ["task=sst2", "model=tiny", f"task.train_file={sst}", f"task.eval_file={sst}",
                                             "train.max_steps=50", "train.budget=3", "train.budget_unit=steps",
                                             f"run.dir={tmp_path / 'ft'}"], root="finetune"))
    assert json.loads((run / "summary.json").read_text())["steps"] == 3


def test_qa_scores_every_input_even_when_ids_repeat():
    """15 questions sharing one id are 15 inputs scored: not collapsed into one."""
    import torch

    from maskbench.tasks import kind_for
    from maskbench.tasks.qa import QAExample, QATask, SpanScorer

    examples = [QAExample("same", "q?", "alpha beta", ["alpha" if n < 5 else "beta"], [0 if n < 5 else 6])
                for n in range(15)]
    scorer = SpanScorer(kind_for(QATask(metric="f1", max_answer_len=30)), examples)
    scorer.best = {n: (1.0, "alpha") for n in range(15)}  # every input answered "alpha"
    metrics, units = scorer.finish()
    assert len(units["num"]) == 15 and sum(units["num"]) == 5
    assert metrics["exact_match"] == pytest.approx(100 * 5 / 15, abs=1e-3)
    del torch


def test_a_long_qa_context_encodes_in_linear_time(tiny_setup):
    """100,000 characters of context: every token once per window it falls in, and the windows cover it all."""
    from maskbench.tasks.qa import QAExample, encode_qa

    _, _, tok, vocab, _ = tiny_setup
    context = ("the river runs north of the city . " * 3000)[:100_000]
    feats = encode_qa([QAExample("q", "where ?", context, [])], tok, vocab, "encoder", 64, 32, 8, train=False)
    n_tokens = len(tok.encode(context, add_special_tokens=False).ids)
    covered = {o for f in feats for o in f.offsets if o is not None}
    assert len(covered) == n_tokens and len(feats) == pytest.approx(n_tokens / 32, abs=2)


@pytest.fixture(scope="module")
def tagger(tiny_overrides, tmp_path_factory):
    from maskbench.train.finetune import run_finetune

    root = tmp_path_factory.mktemp("tagger")
    conllu = root / "t.conllu"
    conllu.write_text("1\tthe\tthe\tDET\t_\t_\t2\tdet\t_\t_\n2\triver\triver\tNOUN\t_\t_\t0\troot\t_\t_\n\n")
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    return run_finetune(load_config(common + ["task=pos", "model=tiny", f"task.train_file={conllu}",
                                              f"task.eval_file={conllu}", "train.max_steps=2",
                                              f"run.dir={root / 'pos'}"], root="finetune"))


@pytest.fixture(scope="module")
def classifier(tiny_overrides, tmp_path_factory):
    from maskbench.train.finetune import run_finetune

    root = tmp_path_factory.mktemp("classifier")
    sst = root / "sst.tsv"
    sst.write_text("sentence\tlabel\n" + "".join(f"the river film {i}\t{i % 2}\n" for i in range(8)))
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    return run_finetune(load_config(common + ["task=sst2", "model=tiny", f"task.train_file={sst}",
                                              f"task.eval_file={sst}", "train.max_steps=4", "train.ckpt_every=2",
                                              f"run.dir={root / 'sst'}"], root="finetune"))


@pytest.mark.parametrize("label", ["", "-", "_"])
def test_predict_reads_no_label_markers_as_unlabelled(classifier, tmp_path, label):
    f = tmp_path / "in.tsv"
    f.write_text(f"sentence\tlabel\nthe river\t1\n\nthe film\t{label}\n")
    result = RUNNER.invoke(app, ["predict", str(classifier), "--file", str(f)])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["input"], r["line"]) for r in rows] == [(1, 2), (2, 4)]  # which input, which file line
    assert "labelled inputs" not in result.stderr  # one input has no label: nothing is scored


def test_predict_refuses_labels_the_run_never_had_without_training_keys(classifier, tagger, tmp_path):
    f = tmp_path / "in.tsv"
    f.write_text("sentence\tlabel\nthe river\t1\nthe film\tpositive\n")
    err = one_line(RUNNER.invoke(app, ["predict", str(classifier), "--file", str(f)]))
    assert "label 'positive' (line 3) is not in the label set ['0', '1']" in err and "task." not in err
    c = tmp_path / "in.conllu"
    c.write_text("1\tthe\tthe\tXYZ\t_\t_\t0\troot\t_\t_\n\n1\triver\triver\t_\t_\t_\t0\troot\t_\t_\n\n")
    err = one_line(RUNNER.invoke(app, ["predict", str(tagger), "--file", str(c)]))
    assert "label 'XYZ' (sentence at line 1)" in err and "task." not in err
    c.write_text("1\tthe\tthe\t_\t_\t_\t0\troot\t_\t_\n\n")  # CoNLL-U's '_': untagged
    assert RUNNER.invoke(app, ["predict", str(tagger), "--file", str(c)]).exit_code == 0
    h = tmp_path / "in.csv"
    h.write_text("text,label\nthe river,1\n")
    err = one_line(RUNNER.invoke(app, ["predict", str(classifier), "--file", str(h)]))
    assert "lacks ['sentence']" in err and "task." not in err


def test_predict_on_a_run_without_final_says_which_checkpoint(classifier, tmp_path):
    import shutil

    live = tmp_path / "live"
    shutil.copytree(classifier, live)
    shutil.rmtree(live / "checkpoints" / "final")
    (live / "summary.json").unlink()
    result = RUNNER.invoke(app, ["predict", str(live), "--text", "the river"])
    assert result.exit_code == 0 and "has no final checkpoint yet; predicting with step-000002" in result.stderr


def test_export_of_a_run_whose_checkpoint_is_pruned_while_read_exports_a_whole_one(classifier, tmp_path, monkeypatch):
    """The checkpoint chosen is pruned (as a live run does) just after it was chosen: the held copy is read."""
    pytest.importorskip("transformers")
    import shutil

    from maskbench.export.model import export_model
    from maskbench.runs import checkpoint

    live = tmp_path / "live"
    shutil.copytree(classifier, live)
    shutil.rmtree(live / "checkpoints" / "final")
    real = checkpoint._snapshot
    pruned = []

    def snapshot_then_prune(ckpt):
        held = real(ckpt)
        if not pruned:
            shutil.rmtree(ckpt)  # the run prunes it right after this command chose and linked it
            pruned.append(ckpt.name)
        return held
    monkeypatch.setattr(checkpoint, "_snapshot", snapshot_then_prune)
    out = export_model(live, tmp_path / "hf")
    assert pruned == ["step-000002"] and (out / "model.safetensors").is_file()


def test_a_checkpoint_that_vanishes_mid_copy_is_chosen_again(classifier, tmp_path, monkeypatch):
    import shutil

    from maskbench.runs import checkpoint

    live = tmp_path / "live"
    shutil.copytree(classifier, live)
    calls = []
    real_link = checkpoint.os.link

    def link_then_vanish(src, dst):
        if not calls:
            calls.append(src)
            raise FileNotFoundError(src)  # pruned between listing and linking
        return real_link(src, dst)
    monkeypatch.setattr(checkpoint.os, "link", link_then_vanish)
    chosen, held = checkpoint.hold_checkpoint(lambda: live / "checkpoints" / "final", "export")
    assert calls and checkpoint.damage(held) is None and chosen.name == "final"
    monkeypatch.setattr(checkpoint.os, "link", lambda s, d: (_ for _ in ()).throw(FileNotFoundError(s)))
    with pytest.raises(MaskbenchError, match="kept changing while being read"):
        checkpoint.hold_checkpoint(lambda: live / "checkpoints" / "final", "export")


# ------------------------------------------------------------------ plots people can read
def _fake_run(folder, name, losses, electra=False):
    run = folder / name
    run.mkdir(parents=True)
    events = []
    for step, loss in enumerate(losses):
        e = {"step": step * 10, "split": "val", "loss": loss * (51 if electra else 1), "tokens": step * 100}
        if electra:
            e.update(mlm_loss=loss, rtd_loss=loss)
        events.append(e)
    (run / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def test_twenty_runs_get_twenty_colours_and_a_legend_beside_the_axes(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from maskbench.report.plots import plot_runs

    runs = [_fake_run(tmp_path, f"r{i:02d}", [5 - i * 0.1, 4 - i * 0.1]) for i in range(20)]
    figures, save = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    plot_runs(runs, tmp_path / "loss.png")
    ax = figures[-1].axes[0]
    colours = {tuple(line.get_color()) if not isinstance(line.get_color(), str) else line.get_color()
               for line in ax.get_lines()}
    assert len(colours) == 20
    legend = ax.get_legend()
    box, axes = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes.x1 - 1  # beside the axes, not over the curves


def test_an_electra_run_is_plotted_by_its_comparable_term_and_labelled(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from maskbench.report.plots import plot_runs

    bert = _fake_run(tmp_path, "bert", [6.0, 5.0])
    electra = _fake_run(tmp_path, "electra", [7.0, 6.5], electra=True)
    figures, save = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    plot_runs([bert, electra], tmp_path / "loss.png")
    ax = figures[-1].axes[0]
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[6.0, 5.0], [7.0, 6.5]]  # not 51 x 7
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("electra [generator MLM term") for lab in labels) and "bert" in labels


def test_a_crash_that_leaves_a_run_is_reported_into_that_run(tmp_path, monkeypatch):
    """The run's lock is released as the exception passes out of it; the report still goes into its folder."""
    from maskbench import crash
    from maskbench.runs.lock import run_lock

    monkeypatch.setattr(crash, "_cache", [])
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("")
    lock = run_lock(run).acquire()
    try:
        try:
            raise IndexError("deep inside")
        finally:
            lock.release()
    except IndexError as exc:
        path = crash.write_report(exc, ["maskbench", "pretrain"], fallback=lambda: tmp_path / "cache")
    assert path.parent == run and "IndexError: deep inside" in path.read_text()
