"""The token cache: parallel preparation is byte-identical to in-process, and the flag layout is right."""

from __future__ import annotations

import numpy as np

from maskbench.config import load_config
from maskbench.data.encode_pool import DOC_START, SENT_START, encode_documents

SPLIT_FILES = ["train.tokens.bin", "train.flags.bin", "val.tokens.bin", "val.flags.bin"]


def test_worker_processes_write_the_same_cache(tiny_overrides, tiny_setup, tmp_path):
    from maskbench.data.cache import build_cache

    cfg, cache, tok, vocab, store = tiny_setup
    base = [o for o in tiny_overrides if not o.startswith("data.cache_dir")]
    given = f"data.tokenizer_file={cache / 'tokenizer.json'}"
    serial = build_cache(load_config(base + [given, f"data.cache_dir={tmp_path / 'a'}", "data.prepare_workers=1"]).data)
    pooled = build_cache(load_config(base + [given, f"data.cache_dir={tmp_path / 'b'}", "data.prepare_workers=2"]).data)
    for name in SPLIT_FILES:
        a, b = (serial / name).read_bytes(), (pooled / name).read_bytes()
        assert len(a) > 0 and a == b, name


def test_encode_documents_flags_sentence_and_document_starts(tiny_setup):
    cfg, cache, tok, vocab, store = tiny_setup
    docs = [["the city river.", "", "a garden."], [""], ["music school."]]  # empty sentence, empty document
    tokens, flags, doc_lens = encode_documents(tok, docs, np.uint16)
    lens = [len(tok.encode(s, add_special_tokens=False).ids) for s in ("the city river.", "a garden.", "music school.")]
    assert doc_lens.tolist() == [lens[0] + lens[1], 0, lens[2]]
    assert len(tokens) == len(flags) == sum(lens)
    expected = np.zeros(sum(lens), dtype=np.uint8)
    expected[[0, lens[0], lens[0] + lens[1]]] = SENT_START
    expected[[0, lens[0] + lens[1]]] |= DOC_START
    assert flags.tolist() == expected.tolist()
    assert int(tokens.min()) >= vocab.n_special  # corpus text never yields a special id


def test_ascii_twin_gives_the_same_ids(tiny_setup):
    """The accent-stripping shortcut for ASCII sentences must not change a single id."""
    import json

    from maskbench.data.encode_pool import ascii_twin

    cfg, cache, tok, vocab, store = tiny_setup
    text = (cache / "tokenizer.json").read_text()
    twin = ascii_twin(text)
    assert twin is not None
    docs = [["The City, its RIVER and 3 apples.", "Café Müller in Zürich.", "naïve tree."], ["Garden (island) 42!"]]
    with_twin = encode_documents(tok, docs, np.uint16, twin)
    without = encode_documents(tok, docs, np.uint16)
    for a, b in zip(with_twin, without):
        assert a.tolist() == b.tolist()
    # accented words still lose their accents (through the full tokenizer, not the twin)
    assert tok.encode("cafe", add_special_tokens=False).ids == tok.encode("Café", add_special_tokens=False).ids
    spec = json.loads(text)
    spec["normalizer"]["strip_accents"] = False
    assert ascii_twin(json.dumps(spec)) is None  # nothing to skip: no twin
