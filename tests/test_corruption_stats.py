"""Statistical checks against OBJECTIVES.md on the embedded default corpus (real Wikipedia text),
5,000 blocks of seq_len 128, the same path as `maskbench corrupt --stats --json`."""

import pytest

from maskbench.config import load_config
from maskbench.corruption import build_corruption
from maskbench.inspect.corrupt import measure
from maskbench.data.blocks import BlockStore
from maskbench.data.cache import build_cache, load_cache_tokenizer
from maskbench.data.tokenizer import Vocab


@pytest.fixture(scope="module")
def wiki(cache_dir):
    cfg = load_config(["data.vocab_size=4096", f"data.cache_dir={cache_dir}"])
    cache = build_cache(cfg.data)
    vocab = Vocab.from_tokenizer(load_cache_tokenizer(cache))
    return vocab, BlockStore(cache, "train", cfg.data.seq_len - 2)


def stats(wiki, name, arch="encoder_decoder", n=5000):
    vocab, store = wiki
    cfg = load_config([f"corruption={name}", f"arch={arch}"])
    return measure(build_corruption(cfg.corruption, arch, vocab), store, vocab, name, n)


def test_bert_mlm_rates(wiki):
    s = stats(wiki, "bert_mlm", "encoder")
    assert s["blocks"] == 5000 and s["specials_touched"] == 0
    # 630,000 tokens: binomial sd of the selection rate ~0.00045; allow ~6 sd
    assert abs(s["selected_frac"] - 0.15) < 0.003
    assert abs(s["mask_frac"] - 0.8) < 0.006 and abs(s["random_frac"] - 0.1) < 0.005
    assert abs(s["kept_frac"] - 0.1) < 0.005


def test_bart_infill_rates(wiki):
    s = stats(wiki, "bart_infill")
    assert abs(s["selected_frac"] - 0.30) < 0.005 and s["specials_touched"] == 0
    assert 2.7 < s["span_len_mean"] < 3.1  # Poisson(3), last span trimmed
    assert 0.04 < s["zero_len_span_frac"] < 0.06  # e^-3 = 0.0498
    # one [MASK] per span: source = (1 - 0.3) n + spans
    assert abs(s["source_len_ratio"] - (0.7 + s["span_count_mean"] / 126)) < 0.01


def test_mass_one_span_of_half(wiki):
    s = stats(wiki, "mass_span")
    assert s["span_count_mean"] == 1.0 and s["selected_frac"] == 0.5 and s["target_len_ratio"] == 0.5
    assert abs(s["mask_frac"] - 0.8) < 0.01 and s["specials_touched"] == 0


def test_t5_span_rates(wiki):
    s = stats(wiki, "t5_span")
    assert abs(s["selected_frac"] - 0.15) < 0.005 and 2.8 < s["span_len_mean"] < 3.3
    assert s["zero_len_span_frac"] == 0 and s["specials_touched"] == 0


@pytest.mark.parametrize("name", ["span_mlm", "bart_mask", "bart_delete", "bart_permute", "bart_rotate", "bart",
                                  "bert_mlm_nsp"])
def test_other_objectives_match_config(wiki, name):
    s = stats(wiki, name, "encoder" if name in ("span_mlm", "bert_mlm_nsp") else "encoder_decoder", n=2000)
    assert s["specials_touched"] == 0
    if name in ("bart_mask", "bart_delete"):
        assert abs(s["selected_frac"] - 0.3) < 0.01
    if name == "bart_delete":
        assert abs(s["source_len_ratio"] - 0.7) < 0.01
    if name == "bart_rotate":
        assert s["rotated_frac"] > 0.98
    if name in ("bart_permute", "bart"):
        assert s["sentences_moved_frac"] > 0.5
    if name == "bert_mlm_nsp":
        assert 0.45 < s["nsp_is_next_frac"] < 0.55
    if name == "span_mlm":
        assert abs(s["selected_frac"] - 0.15) < 0.01 and s["span_len_mean"] > 2
