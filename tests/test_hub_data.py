"""hf:NAME_OR_DIR[:CONFIG][@SPLIT] through the datasets library, on local dataset folders (no network):
pretraining text, the four task shapes, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

from maskbench.config import load_config  # noqa: E402
from maskbench.data import hub  # noqa: E402
from maskbench.errors import MaskbenchError  # noqa: E402
from maskbench.train.finetune import run_finetune  # noqa: E402
from maskbench.train.pretrain import run_pretrain  # noqa: E402

SENTIMENT = [("the river film was good and long", 1), ("the war game was bad", 0)]


@pytest.fixture(scope="module")
def folders(corpus_file, tmp_path_factory):
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("hub")
    docs = corpus_file.read_text().split("\n\n")
    text = root / "text"
    text.mkdir()
    datasets.Dataset.from_dict({"text": [d for d in docs if d.strip()] + [""]}).to_parquet(str(text / "train.parquet"))
    sst = root / "sst"  # JSON lines files named by split
    sst.mkdir()
    for split, n in (("train", 40), ("validation", 12)):
        rows = [{"sentence": f"{SENTIMENT[i % 2][0]} {i}", "label": SENTIMENT[i % 2][1], "idx": i} for i in range(n)]
        (sst / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    nli_feats = datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                   "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"])})
    pairs = [("a river is there", 0), ("the city is big", 1), ("no river", 2), ("unclear", -1)] * 9
    nli = datasets.Dataset.from_dict({"premise": ["the city has a river"] * len(pairs), "hypothesis": [p for p, _ in pairs],
                                      "label": [lab for _, lab in pairs]}, features=nli_feats)
    datasets.DatasetDict({"train": nli, "validation": nli}).save_to_disk(str(root / "snli"))
    pos_feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                   "upos": datasets.Sequence(datasets.ClassLabel(names=["DET", "NOUN", "VERB"]))})
    pos = datasets.Dataset.from_dict({"tokens": [["the", "city", "has", "a", "river"]] * 30,
                                      "upos": [[0, 1, 2, 0, 1]] * 30}, features=pos_feats)
    datasets.DatasetDict({"train": pos, "validation": pos}).save_to_disk(str(root / "ud"))
    ctx = "The school is in the north of the city. The river runs to the south."
    squad = datasets.Dataset.from_dict({"id": [f"q{i}" for i in range(24)], "title": ["t"] * 24, "context": [ctx] * 24,
                                        "question": ["Where does the river run?"] * 24,
                                        "answers": [{"text": ["to the south"], "answer_start": [ctx.index("to the south")]}] * 24})
    datasets.DatasetDict({"train": squad, "validation": squad}).save_to_disk(str(root / "squad"))
    return root


def test_pretraining_from_a_local_dataset_folder(folders, tiny_overrides, tmp_path):
    over = [o for o in tiny_overrides if not o.startswith("data.paths")]
    run = run_pretrain(load_config(over + [f"data.paths=[hf:{folders / 'text'}]", f"run.dir={tmp_path / 'r'}"]))
    s = json.loads((run / "summary.json").read_text())
    assert s["steps"] == 20 and s["final_val_loss"] < s["initial_val_loss"]
    cfg = load_config(over + [f"data.paths=[hf:{folders / 'text'}]"])
    written = hub.text_file(f"hf:{folders / 'text'}", Path(cfg.data.cache_dir))  # the same cached file again
    rows = [r for r in datasets.load_dataset(str(folders / "text"))["train"]["text"] if r.strip()]
    assert written.read_text() == "".join(r.strip() + "\n\n" for r in rows)  # one document per non-empty row


def _ft(tiny_overrides, task, arch, files, tmp_path):
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    cfg = load_config(common + [f"task={task}", f"arch={arch}", "model=tiny", "train.max_steps=30", "train.batch_size=8",
                                "train.eval_every=15", "train.lr=3e-3", "task.dropout=0.0", f"run.dir={tmp_path / task}"]
                      + files, root="finetune")
    return json.loads((run_finetune(cfg) / "summary.json").read_text()), cfg


@pytest.mark.parametrize("task, files", [
    ("sst2", ["task.train_file=hf:{sst}@train", "task.eval_file=hf:{sst}@validation"]),
    ("nli", ["task.train_file=hf:{snli}@train", "task.eval_file=hf:{snli}@validation",
             "task.text_fields=[premise,hypothesis]", "task.label_field=label"]),
    ("pos", ["task.train_file=hf:{ud}@train", "task.eval_file=hf:{ud}@validation"]),
    ("qa", ["task.train_file=hf:{squad}@train", "task.eval_file=hf:{squad}@validation", "task.max_len=32",
            "task.doc_stride=8", "task.max_query_len=12"])])
def test_finetuning_from_local_dataset_folders(folders, tiny_overrides, tmp_path, task, files):
    files = [f.format(sst=folders / "sst", snli=folders / "snli", ud=folders / "ud", squad=folders / "squad")
             for f in files]
    s, cfg = _ft(tiny_overrides, task, "encoder", files, tmp_path)
    metric = cfg.task.metric
    assert s["final_eval"][metric] > s["initial_eval"][metric]
    labels = json.loads((tmp_path / task / "labels.json").read_text())
    if task == "nli":
        assert labels == ["entailment", "neutral", "contradiction"]  # class ids became names; -1 rows dropped
    if task == "pos":
        assert sorted(labels) == ["DET", "NOUN", "VERB"]


def _hub_task_file(spec, task, cache_root):
    """(cached file, reader format) as the task kind writes it."""
    from maskbench.tasks import kind_for

    path, fmt, _ = kind_for(task).hub_file(spec, cache_root)
    return Path(path), fmt


def test_snli_unlabelled_rows_are_dropped(folders, tmp_path):
    from omegaconf import OmegaConf

    task = OmegaConf.create({"kind": "pair_classification", "text_fields": ["premise", "hypothesis"],
                             "label_field": "label"})
    path, fmt = _hub_task_file(f"hf:{folders / 'snli'}@train", task, tmp_path)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert fmt == "jsonl" and len(rows) == 27 and {r["label"] for r in rows} == {"entailment", "neutral", "contradiction"}


def test_hub_errors_are_one_line(folders, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    task = OmegaConf.create({"kind": "classification", "text_fields": ["sentence"], "label_field": "label"})
    with pytest.raises(MaskbenchError, match="unknown split 'test': it has train, validation"):
        _hub_task_file(f"hf:{folders / 'sst'}@test", task, tmp_path)
    with pytest.raises(MaskbenchError, match="name a split"):
        _hub_task_file(f"hf:{folders / 'sst'}", task, tmp_path)
    bad = OmegaConf.create({"kind": "classification", "text_fields": ["text"], "label_field": "label"})
    with pytest.raises(MaskbenchError, match="has no column 'text'.*task.text_fields"):
        _hub_task_file(f"hf:{folders / 'sst'}@train", bad, tmp_path)
    with pytest.raises(MaskbenchError, match="no column 'content'.*data.text_column"):
        hub.text_file(f"hf:{folders / 'text'}", tmp_path, "content")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(MaskbenchError, match="not available offline"):
        _hub_task_file("hf:maskbench-no-such/dataset@train", task, tmp_path)
    assert hub.parse("hf:glue:sst2@validation") == hub.HubRef("hf:glue:sst2@validation", "glue", "sst2", "validation")


def test_minus_one_is_a_class_unless_the_dataset_says_unlabelled(tmp_path):
    from omegaconf import OmegaConf

    folder = tmp_path / "three"
    folder.mkdir()
    rows = [{"sentence": f"text {i}", "label": [-1, 0, 1][i % 3]} for i in range(90)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = OmegaConf.create({"kind": "classification", "text_fields": ["sentence"], "label_field": "label"})
    path, _ = _hub_task_file(f"hf:{folder}@train", task, tmp_path / "cache")
    got = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(got) == 90 and {r["label"] for r in got} == {"-1", "0", "1"}  # plain ints: -1 is a real class


def test_null_text_and_tag_count_mismatch_are_refused_naming_the_row(tmp_path):
    from omegaconf import OmegaConf

    folder = tmp_path / "nulls"
    folder.mkdir()
    rows = [{"sentence": None if i == 7 else f"text {i}", "label": i % 2} for i in range(20)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = OmegaConf.create({"kind": "classification", "text_fields": ["sentence"], "label_field": "label"})
    with pytest.raises(MaskbenchError, match="row 7 has no sentence"):
        _hub_task_file(f"hf:{folder}@train", task, tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # nothing half-written left in the cache
    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "upos": datasets.Sequence(datasets.ClassLabel(names=["DET", "NOUN"]))})
    bad = datasets.Dataset.from_dict({"tokens": [["a", "b"], ["a", "b", "c"]], "upos": [[0, 1], [0, 1]]}, features=feats)
    datasets.DatasetDict({"train": bad}).save_to_disk(str(tmp_path / "ud"))
    from maskbench.tasks.tagging import tagged_task_file

    with pytest.raises(MaskbenchError, match="row 1 has 3 words and 2 tags"):
        tagged_task_file(hub.parse(f"hf:{tmp_path / 'ud'}@train"), hub.task_dataset(f"hf:{tmp_path / 'ud'}@train")[1],
                             "tokens", "upos", tmp_path / "cache")


def test_a_null_sentence_in_a_jsonl_task_file_is_refused(tmp_path):
    from maskbench.tasks.sentence import read_text_examples

    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"sentence": "fine", "label": 1}) + "\n" + json.dumps({"sentence": None, "label": 0}) + "\n")
    with pytest.raises(MaskbenchError, match="line 2: 'sentence' is null"):
        read_text_examples(f, "jsonl", ["sentence"], "label")
