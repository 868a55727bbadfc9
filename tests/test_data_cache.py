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
    """The Python-normalised twin for ASCII sentences must not change a single id: capitals, punctuation,
    digits, control characters BERT deletes (joining the words around them), tabs and returns it spaces."""
    import json

    from maskbench.data.encode_pool import ascii_twin

    cfg, cache, tok, vocab, store = tiny_setup
    text = (cache / "tokenizer.json").read_text()
    twin = ascii_twin(text)
    assert twin is not None and json.loads(twin.tokenizer.to_str())["normalizer"] is None
    docs = [["The City, its RIVER and 3 apples.", "Café Müller in Zürich.", "naïve tree."], ["Garden (island) 42!"],
            ["The\x01city\tand\x0bthe\x7fRIVER\r\x00garden", "tree\x1fmusic"]]
    with_twin = encode_documents(tok, docs, np.uint16, twin)
    without = encode_documents(tok, docs, np.uint16)
    for a, b in zip(with_twin, without):
        assert a.tolist() == b.tolist()
    # a control character really is deleted (BERT's clean_text), not turned into a word break
    assert tok.encode("the\x01city", add_special_tokens=False).ids != tok.encode("the city", add_special_tokens=False).ids
    # accented words still lose their accents (through the full tokenizer, not the twin)
    assert tok.encode("cafe", add_special_tokens=False).ids == tok.encode("Café", add_special_tokens=False).ids
    spec = json.loads(text)
    spec["normalizer"] = {"type": "Lowercase"}
    assert ascii_twin(json.dumps(spec)) is None  # not BERT's normaliser: no twin


def test_appending_a_file_encodes_only_that_file(tmp_path):
    """A corpus that grows by a file keeps its tokenizer (the sample it was trained on is unchanged) and its
    encoded shards: only the new file is tokenized, and the cache is the shards back to back."""
    from conftest import write_corpus

    from maskbench.data.cache import build_cache

    shards = tmp_path / "shards"
    shards.mkdir()
    write_corpus(shards / "a.txt", 60, seed=1)
    b = write_corpus(tmp_path / "b.txt", 30, seed=2)
    common = [f"data.cache_dir={tmp_path / 'cache'}", "data.vocab_size=400", "data.tokenizer_sample_mb=0.01"]
    said = []
    one = build_cache(load_config(common + [f"data.paths=[{shards}]"]).data, progress=said.append)
    assert any("tokenizing 1 of 1" in m for m in said)
    b.rename(shards / "b.txt")  # a second shard lands in the corpus folder
    said.clear()
    two = build_cache(load_config(common + [f"data.paths=[{shards}]"]).data, progress=said.append)
    assert two != one and any("tokenizing 1 of 2 corpus file(s)" in m and "(1 already encoded)" in m for m in said)
    assert not any("training" in m for m in said)  # the tokenizer was reused
    assert (one / "tokenizer.json").read_bytes() == (two / "tokenizer.json").read_bytes()
    for name in SPLIT_FILES:  # the grown cache starts with the old one, byte for byte
        old, new = (one / name).read_bytes(), (two / name).read_bytes()
        assert len(new) > len(old) > 0 and new[:len(old)] == old
    alone = build_cache(load_config(common + [f"data.paths=[{shards / 'b.txt'}]",
                                              f"data.tokenizer_file={one / 'tokenizer.json'}"]).data)
    for name in SPLIT_FILES:  # ... and ends with the new file encoded alone (its own document split)
        assert (two / name).read_bytes() == (one / name).read_bytes() + (alone / name).read_bytes()


def test_sentence_split_fast_path_agrees_with_the_full_rule():
    from maskbench.data.corpus import _SENT_END, split_sentences

    full = lambda p: [s.strip() for s in _SENT_END.split(p) if s and s.strip()]  # noqa: E731
    paragraphs = ["The cat sat. It purred! Did it? \"Yes.\" (Maybe.) 3 cats. e.g. this. ok",
                  "No end here", "Mr. Smith went. 9 lives.  Two  spaces. [1] A ref.",
                  "他来了。她走了！真的吗？好。", "Mixed text. 中文句子。 English again! Done?"]
    for p in paragraphs:
        assert split_sentences(p) == full(p)
    assert split_sentences(paragraphs[0])[:3] == ["The cat sat.", "It purred!", "Did it?"]
    assert split_sentences(paragraphs[3]) == ["他来了。", "她走了！", "真的吗？", "好。"]
    assert split_sentences(paragraphs[4]) == ["Mixed text. 中文句子。", "English again!", "Done?"]  # 中 opens nothing
