"""The cross-lingual pieces: a bilingual corpus and vocabulary that keep every special-token guarantee,
the presets composing, and the default English corpus by name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskbench.config import load_config

ZH_TEXT = "这个城市有一条河。河水向南流。\n\n人民日报发表了文章。文章很长。\n\n" * 40


@pytest.fixture(scope="module")
def bilingual(corpus_file, tmp_path_factory):
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab

    zh = tmp_path_factory.mktemp("zh") / "zh.txt"
    zh.write_text(ZH_TEXT, encoding="utf-8")
    cfg = load_config(["experiment=debug", f"data.paths=[{corpus_file},{zh}]", "data.vocab_size=600",
                       f"data.cache_dir={tmp_path_factory.mktemp('cache')}", "data.seq_len=32"])
    folder = build_cache(cfg.data)
    tok = load_cache_tokenizer(folder)
    return cfg, folder, tok, Vocab.from_tokenizer(tok)


def test_bilingual_vocabulary_splits_cjk_and_keeps_specials_out(bilingual):
    cfg, folder, tok, vocab = bilingual
    enc = tok.encode("这个城市有河 the river", add_special_tokens=False)
    assert enc.tokens[:6] == ["这", "个", "城", "市", "有", "河"]  # one piece per CJK character
    assert "river" in enc.tokens
    meta = json.loads((folder / "meta.json").read_text())
    for split in ("train", "val"):
        ids = np.fromfile(folder / f"{split}.tokens.bin", dtype=meta["dtype"])
        assert not np.isin(ids, list(vocab.special_ids)).any()  # the cache never holds a special id
    chinese = [tok.token_to_id(c) for c in "城市河"]
    assert all(i is not None and i not in vocab.special_ids for i in chinese)


def test_corruption_of_bilingual_blocks_never_touches_specials(bilingual):
    import torch

    from maskbench.corruption import build_corruption
    from maskbench.data.blocks import BlockStore
    from maskbench.train.batches import PretrainBatches

    cfg, folder, tok, vocab = bilingual
    store = BlockStore(folder, "train", cfg.data.seq_len - 2)
    corruption = build_corruption(load_config(["corruption=bert_mlm"]).corruption, "encoder", vocab, None)
    batch, _ = PretrainBatches(store, corruption, 0, 16).batch(0)
    specials = torch.tensor(sorted(vocab.special_ids))
    inside = batch.input_ids[:, 1:-1]
    replaced = (batch.labels[:, 1:-1] != -100) & (inside != vocab.mask)
    assert not torch.isin(batch.labels[batch.labels != -100], specials).any()  # never selected
    assert not torch.isin(inside[replaced & (inside != batch.labels[:, 1:-1])], specials).any()  # never sampled


def test_crosslingual_presets_compose():
    cfg = load_config(["experiment=crosslingual"], root="finetune")
    assert list(cfg.compare.tasks) == ["pos_xl", "sst2_xl"] and "english_only" in cfg.compare.baselines
    pos = load_config(["experiment=crosslingual", "task=pos_xl"], root="finetune").task
    assert pos.extra_eval[0]["file"].endswith("zh_gsdsimp-ud-dev.conllu") and pos.kind == "tagging"
    sst = load_config(["experiment=crosslingual", "task=sst2_xl"], root="finetune").task
    assert sst.extra_eval[0]["label_map"] == {"positive": "1", "negative": "0"}
    bi, en = (load_config([f"experiment={e}"]) for e in ("xl_pretrain", "xl_pretrain_en"))
    assert list(bi.data.paths) == ["builtin:enwiki_sample", "builtin:peoples_daily_text"]
    assert list(en.data.paths) == ["builtin:enwiki_sample"] and en.model == bi.model and en.train == bi.train


def test_default_corpus_by_name(tmp_path):
    from maskbench.data.corpus import resolve_paths

    assert resolve_paths(["builtin:enwiki_sample"], str(tmp_path)) == resolve_paths([], str(tmp_path))
