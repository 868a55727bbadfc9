"""Shared fixtures: a small synthetic corpus written by the tests, and a per-session cache folder."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest


def pytest_configure(config):
    """Under `-n N` (pytest-xdist) each worker is one process per core: one torch thread each, so N workers
    do not oversubscribe the cores (a test's own `runtime.threads` still applies to what it runs)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


WORDS = ("the a of and to in is was for on that with as by at from his her it an were which be this "
         "are or had not but first one their its new after who they two have has been more also into "
         "other time than some only over most when between city world state during made under where "
         "river music school house people history north south during war film game team year group "
         "apple phone company fruit tree garden market station village island church language").split()


def write_corpus(path: Path, n_docs: int = 60, seed: int = 0) -> Path:
    """WikiText-style synthetic corpus: ' = Title = ' lines, paragraphs of sentences."""
    rng = random.Random(seed)
    lines = []
    for d in range(n_docs):
        lines.append(f" = Document {d} = ")
        lines.append("")
        for _ in range(rng.randint(3, 6)):
            sents = []
            for _ in range(rng.randint(3, 7)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(5, 14))]
                sents.append(" ".join(words).capitalize() + ".")
            lines.append(" ".join(sents))
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")


@pytest.fixture(scope="session")
def tiny_overrides(corpus_file, cache_dir) -> list[str]:
    """Overrides for fast runs on the synthetic corpus."""
    return ["experiment=debug", f"data.paths=[{corpus_file}]", f"data.cache_dir={cache_dir}",
            "data.vocab_size=400", "data.seq_len=32", "runtime.progress=false", "runtime.threads=1"]


@pytest.fixture(scope="session")
def tiny_setup(tiny_overrides):
    """(cfg, cache folder, tokenizer, vocab, train BlockStore) on the synthetic corpus."""
    from maskbench.config import load_config
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab

    cfg = load_config(tiny_overrides)
    cache = build_cache(cfg.data)
    tok = load_cache_tokenizer(cache)
    return cfg, cache, tok, Vocab.from_tokenizer(tok), BlockStore(cache, "train", cfg.data.seq_len - 2)
