"""Fine-tuned models that leave the run: final/ keeps the whole task model, `maskbench predict` reproduces the
run's own evaluation, a fine-tuned run's backbone starts a new fine-tuning, older runs keep loading."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from maskbench.cli import app
from maskbench.config import load_config
from maskbench.errors import MaskbenchError
from test_finetune import ft_overrides, write_tasks

KINDS = ["sst2", "nli", "pos", "qa"]


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


@pytest.fixture(scope="module")
def fine_tuned(tiny_overrides, task_files, tmp_path_factory):
    """One short fine-tuning per (task, arch), made on first use."""
    from maskbench.train.finetune import run_finetune

    runs = {}

    def get(task: str, arch: str, extra=()):
        key = (task, arch, tuple(extra))
        if key not in runs:
            folder = tmp_path_factory.mktemp(f"ft-{task}-{arch}")
            cfg = load_config(ft_overrides(tiny_overrides, task, task_files, arch) + list(extra) +
                              [f"run.dir={folder / 'run'}"], root="finetune")
            runs[key] = (run_finetune(cfg), cfg)
        return runs[key]
    return get


def eval_file(cfg):
    return cfg.task.eval_file


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
@pytest.mark.parametrize("task", KINDS)
def test_predict_on_the_dev_file_equals_the_runs_final_eval(fine_tuned, task, arch, tmp_path):
    run, cfg = fine_tuned(task, arch)
    summary = json.loads((run / "summary.json").read_text())
    out = tmp_path / "pred.jsonl"
    res = CliRunner().invoke(app, ["predict", str(run), "--file", str(eval_file(cfg)), "-o", str(out),
                                   "--batch-size", "5"])
    assert res.exit_code == 0, res.output
    metric = cfg.task.metric
    assert f"{metric} = {summary['final_eval'][metric]} on" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    labels = json.loads((run / "labels.json").read_text())
    if task in ("sst2", "nli"):
        assert len(rows) == 36 if task == "nli" else 40
        for r in rows:
            assert r["label"] in labels and set(r["probs"]) == set(labels)
            assert sum(r["probs"].values()) == pytest.approx(1.0, abs=1e-5)
            assert r["probs"][r["label"]] == max(r["probs"].values())
    elif task == "pos":
        assert len(rows) == 30 and all(len(r["tags"]) == len(r["words"]) == 5 for r in rows)
        assert all(t in labels for r in rows for t in r["tags"])
    else:
        assert len(rows) == 24
        ctx = "The school is in the north of the city. The river runs to the south."
        for r in rows:
            assert ctx[r["start"]:r["end"]] == r["answer"] and 0 < r["score"] <= 1


def test_final_checkpoint_holds_the_whole_task_model(fine_tuned):
    run, _ = fine_tuned("pos", "encoder")
    final = run / "checkpoints" / "final"
    names = set(load_file(str(final / "model.safetensors")))
    assert {"head.weight", "head.bias"} <= names and any(n.startswith("backbone.encoder.") for n in names)
    record = json.loads((final / "task.json").read_text())
    assert record["kind"] == "tagging" and record["labels"] == ["DET", "NOUN", "VERB"]
    assert "task.json" in json.loads((final / "state.json").read_text())["files"]  # checksummed like the rest


@pytest.mark.parametrize("extra", [(), ("task.freeze=true", "train.lr=1e-2")])
def test_reloaded_task_model_scores_as_the_summary_says(fine_tuned, extra):
    """A frozen probe's and a full fine-tuning's final/ rebuild the task model alone."""
    from maskbench.inspect.predict import predict
    from maskbench.runs.task_model import load_task_model

    run, cfg = fine_tuned("sst2", "encoder", extra)
    saved = load_task_model(run / "checkpoints" / "final")
    assert saved.task.freeze == bool(extra)
    examples = saved.kind.read_inputs(cfg.task.eval_file, "tsv")
    _, metrics = predict(saved, examples)
    summary = json.loads((run / "summary.json").read_text())
    assert metrics["accuracy"] == summary["final_eval"]["accuracy"]


def test_text_inputs_for_each_shape(fine_tuned):
    runner = CliRunner()
    cases = {"sst2": (["--text", "the river film was good"], "label"),
             "nli": (["--text", "the city has a river", "--text-pair", "no river"], "label"),
             "pos": (["--text", "the city has a river"], "tags"),
             "qa": (["--text", "Where does the river run?", "--text-pair", "The river runs to the south."], "answer")}
    for task, (args, key) in cases.items():
        run, _ = fine_tuned(task, "encoder")
        res = runner.invoke(app, ["predict", str(run), *args])
        assert res.exit_code == 0, res.output
        row = json.loads(res.stdout.strip().splitlines()[-1])
        assert key in row
    run, _ = fine_tuned("pos", "encoder")
    row = json.loads(runner.invoke(app, ["predict", str(run), "--text", "the city has a river"]).stdout)
    assert row["tags"] == ["DET", "NOUN", "VERB", "DET", "NOUN"]  # learned from 30 such sentences


@pytest.mark.parametrize("task, args, needle", [
    ("sst2", ["--text", "a", "--text-pair", "b"], "takes --text alone"),
    ("nli", ["--text", "a"], "takes --text and --text-pair"),
    ("qa", ["--text", "where?"], "context as --text-pair"),
    ("pos", ["--text", "   "], "no words"),
    ("sst2", [], "either --text"),
    ("sst2", ["--file", "x.conllu"], "reads .tsv, .csv, .jsonl, .txt"),
    ("sst2", ["--text", "a", "--batch-size", "0"], "--batch-size=0"),
    ("sst2", ["--text", "a", "--step", "7"], "no checkpoint of step 7"),
])
def test_predict_input_errors_are_one_line(fine_tuned, task, args, needle):
    run, _ = fine_tuned(task, "encoder")
    res = CliRunner().invoke(app, ["predict", str(run), *args])
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output


def test_predict_refuses_a_pretraining_run(tiny_overrides, tmp_path):
    from maskbench.train.pretrain import run_pretrain

    cfg = load_config(tiny_overrides + ["train.max_steps=2", f"run.dir={tmp_path / 'pre'}"])
    run = run_pretrain(cfg)
    res = CliRunner().invoke(app, ["predict", str(run), "--text", "a"])
    assert res.exit_code == 2 and "pretraining checkpoint, which has no task head" in res.output


def test_text_file_inputs_and_unlabelled_rows(fine_tuned, tmp_path):
    from maskbench.inspect.predict import read_inputs
    from maskbench.runs.task_model import load_task_model

    saved = load_task_model(fine_tuned("nli", "encoder")[0])
    txt = tmp_path / "pairs.txt"
    txt.write_text("the city has a river\tno river\n\nthe city is big\ta river is there\n")
    assert [e.texts for e in read_inputs(saved, None, None, txt)] == [["the city has a river", "no river"],
                                                                        ["the city is big", "a river is there"]]
    txt.write_text("only one part\n")
    with pytest.raises(MaskbenchError, match="line 1 has 1 tab-separated parts"):
        read_inputs(saved, None, None, txt)
    unlabelled = tmp_path / "u.jsonl"
    unlabelled.write_text(json.dumps({"sentence1": "a river", "sentence2": "no river"}) + "\n")
    ex = read_inputs(saved, None, None, unlabelled)
    assert ex[0].label is None and not saved.kind.labelled(ex)


def test_a_fine_tuned_run_starts_a_new_fine_tuning(fine_tuned, tiny_overrides, task_files, tmp_path):
    """init= of a fine-tuning run takes its backbone (not its head): the new run starts from exactly it."""
    from maskbench.runs.source import resolve_source
    from maskbench.train.finetune import run_finetune

    pos_run, _ = fine_tuned("pos", "encoder")
    src = resolve_source(pos_run)
    assert src.pretrained and src.arch == "encoder"
    cfg = load_config(ft_overrides(tiny_overrides, "sst2", task_files, "encoder") +
                      [f"init={pos_run}", "train.max_steps=2", f"run.dir={tmp_path / 'again'}"], root="finetune")
    run = run_finetune(cfg)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["init"] == "pretrained" and summary["init_source"].endswith("final")
    old = load_file(str(pos_run / "checkpoints" / "final" / "model.safetensors"))
    from maskbench.models import build_model
    from maskbench.data.tokenizer import Vocab, load_tokenizer

    net = build_model(src.model_cfg, src.arch, Vocab.from_tokenizer(load_tokenizer(src.tokenizer_path)).size)
    src.load_into(net)
    assert torch.equal(net.state_dict()["encoder.tok.weight"], old["backbone.encoder.tok.weight"])


def test_older_fine_tuning_runs_keep_loading_as_backbones(fine_tuned, tmp_path):
    """A final/ written before task models were kept (backbone tensors only, no task.json) still starts
    fine-tunings; predict says in one line why it cannot use it."""
    import shutil

    from maskbench.runs.source import resolve_source

    run, _ = fine_tuned("sst2", "encoder")
    old = tmp_path / "old"
    shutil.copytree(run, old)
    final = old / "checkpoints" / "final"
    tensors = load_file(str(final / "model.safetensors"))
    save_file({k[len("backbone."):]: v for k, v in tensors.items() if k.startswith("backbone.")},
              str(final / "model.safetensors"))
    (final / "task.json").unlink()
    state = json.loads((final / "state.json").read_text())
    state.pop("files")
    (final / "state.json").write_text(json.dumps(state))
    src = resolve_source(old)
    assert src.pretrained
    res = CliRunner().invoke(app, ["predict", str(old), "--text", "a"])
    assert res.exit_code == 2 and "before maskbench kept the task head" in res.output


# ---------------------------------------------------------------- export to transformers task classes
def _predict_rows(run, args):
    res = CliRunner().invoke(app, ["predict", str(run), *args])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def _export(run, out, *extra):
    res = CliRunner().invoke(app, ["export", str(run), "-o", str(out), *extra])
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split())


@pytest.mark.parametrize("task", ["sst2", "nli"])
def test_exported_classifier_pipeline_gives_predicts_labels_and_scores(fine_tuned, task, tmp_path):
    pytest.importorskip("transformers")
    from transformers import pipeline

    run, cfg = fine_tuned(task, "encoder")
    said = _export(run, tmp_path / "hf")
    assert "as MegatronBertForSequenceClassification" in said
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert list(config["id2label"].values()) == json.loads((run / "labels.json").read_text())
    examples = _saved_inputs(run, cfg)[:20]
    rows = [_predict_rows(run, ["--text", e.texts[0]] + (["--text-pair", e.texts[1]] if len(e.texts) == 2 else []))[0]
            for e in examples]
    pipe = pipeline("text-classification", model=str(tmp_path / "hf"))
    for e, row in zip(examples, rows):
        got = pipe(e.texts[0] if len(e.texts) == 1 else {"text": e.texts[0], "text_pair": e.texts[1]}, top_k=None)
        assert got[0]["label"] == row["label"]
        for g in got:
            assert g["score"] == pytest.approx(row["probs"][g["label"]], abs=1e-4)


def _saved_inputs(run, cfg):
    from maskbench.inspect.predict import read_inputs
    from maskbench.runs.task_model import load_task_model

    return read_inputs(load_task_model(run), None, None, cfg.task.eval_file)


def test_exported_tagger_pipeline_gives_predicts_tags_and_scores(fine_tuned, tmp_path):
    """Per sub-word (aggregation "none"), read at each word's first sub-word as predict reads it ("first" would
    merge adjacent words of one tag into one entity: it reads tags as spans)."""
    pytest.importorskip("transformers")
    from transformers import pipeline

    run, cfg = fine_tuned("pos", "encoder")
    assert "as MegatronBertForTokenClassification" in _export(run, tmp_path / "hf")
    pipe = pipeline("token-classification", model=str(tmp_path / "hf"), aggregation_strategy="none")
    sentences = ["the city has a river", "a river has the city", "the river", "the city river has a city river"]
    for text in sentences * 5:
        row = _predict_rows(run, ["--text", text])[0]
        words = text.split()
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        first = {}
        for g in pipe(text):
            first.setdefault(g["start"], g)
        assert [first[s]["entity"] for s in starts] == row["tags"]
        assert [float(first[s]["score"]) for s in starts] == pytest.approx(row["scores"], abs=1e-4)


def test_exported_qa_model_gives_predicts_answers(fine_tuned, tmp_path):
    """transformers 5 has no question-answering pipeline: its model's start/end logits, read with the same
    rule (best start + end over the context), give predict's answers and scores."""
    pytest.importorskip("transformers")
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from maskbench.tasks.qa import best_spans

    run, cfg = fine_tuned("qa", "encoder")
    assert "as MegatronBertForQuestionAnswering" in _export(run, tmp_path / "hf")
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    model = AutoModelForQuestionAnswering.from_pretrained(str(tmp_path / "hf")).eval()
    ctx = ["The river runs to the south.", "The school is in the north.", "The city has a river to the south."]
    questions = ["Where does the river run?", "Where is the school?", "What does the city have?", "Where is it?"]
    for q in questions * 2:
        for c in ctx:
            row = _predict_rows(run, ["--text", q, "--text-pair", c])[0]
            enc = tok(q, c, return_offsets_mapping=True, return_tensors="pt")
            with torch.no_grad():
                out = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
            in_ctx = torch.tensor([[s == 1 for s in enc.sequence_ids(0)]])
            i, j, _ = (int(x) for x in best_spans(out.start_logits, out.end_logits, in_ctx, cfg.task.max_answer_len))
            offsets = enc["offset_mapping"][0]
            assert c[int(offsets[i][0]):int(offsets[j][1])] == row["answer"]
            p_start = out.start_logits.masked_fill(~in_ctx, float("-inf")).softmax(-1)[0, i]
            p_end = out.end_logits.masked_fill(~in_ctx, float("-inf")).softmax(-1)[0, j]
            assert float(p_start * p_end) == pytest.approx(row["score"], abs=1e-4)


@pytest.mark.parametrize("task, arch, extra, needle", [
    ("sst2", "encoder_decoder", (), "shift it right"),
    ("sst2", "encoder", ("task.pooling=mean",), "task.pooling=mean averages"),
    ("pos", "encoder", ("task.freeze=true", "task.probe_layer=1"), "it reads layer 1"),
])
def test_heads_without_an_exact_class_are_named_in_one_line(fine_tuned, task, arch, extra, needle, tmp_path):
    pytest.importorskip("transformers")
    run, _ = fine_tuned(task, arch, extra)
    said = _export(run, tmp_path / "hf")
    assert f"note: the {'classification' if task == 'sst2' else 'tagging'} head was not exported" in said
    assert needle in said
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert not config["architectures"][0].endswith(("SequenceClassification", "TokenClassification"))


def test_export_step_takes_a_kept_checkpoint(fine_tuned, tmp_path):
    pytest.importorskip("transformers")
    run, _ = fine_tuned("sst2", "encoder", ("train.ckpt_every=10", "train.keep_checkpoints=2"))
    steps = sorted(p.name for p in (run / "checkpoints").glob("step-*"))
    n = int(steps[-1].split("-")[1])
    said = _export(run, tmp_path / "hf", "--step", str(n))
    assert f"{steps[-1]} as MegatronBertForSequenceClassification" in said
    res = CliRunner().invoke(app, ["export", str(run), "-o", str(tmp_path / "x"), "--step", "3"])
    assert res.exit_code == 2 and "no checkpoint of step 3" in res.output
