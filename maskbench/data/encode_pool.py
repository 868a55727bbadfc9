"""Encode batches of documents into token-id and flag arrays, optionally in worker processes.

Why worker processes: the tokenizers library's `encode_batch` is parallel in Rust, but everything around it
(turning Encodings into Python id lists, flattening them into arrays) is serial Python, and while it runs
the Rust thread pool idles; on a 2-core machine that serial part was a third of preparation time. With one
single-threaded encoder per core, sentence splitting, encoding *and* the array work run in parallel, and the
parent process only reads lines into paragraphs: the serial share that would cap a machine with more cores
(on 2 cores, where the workers' encoding already fills both, the A/B measured the same rate). Results come
back in submission order, so the cache is byte-identical to the in-process path; at most `2 x workers`
batches are in flight, so memory stays bounded.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from maskbench.cores import usable_cores
from maskbench.data.corpus import split_document

SENT_START = 1  # flag bit: a sentence starts at this token
DOC_START = 2   # flag bit: a document starts at this token

Documents = list[list[str]]  # documents, each a list of sentences (or, before the split, of paragraphs)
Encoded = tuple[np.ndarray, np.ndarray, np.ndarray]  # (token ids, flags, tokens per document)
EncodedText = tuple[np.ndarray, np.ndarray, np.ndarray, int]  # Encoded and the characters of its sentences


# ASCII control characters BERT's `clean_text` deletes (tab, newline and carriage return are whitespace to it).
_CONTROL_CHARS = "".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32), 127]))
_ASCII_CONTROL = str.maketrans("", "", _CONTROL_CHARS)
_HAS_CONTROL = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")


class AsciiTwin:
    """BERT's normaliser done in Python for pure-ASCII sentences, and the same tokenizer without it.

    On ASCII text the normaliser only lowercases and deletes control characters (accent stripping and the
    spacing of CJK characters are the identity there), and as a Rust pass over every string it was a fifth
    of encoding time; `str.lower` + `str.translate` do the same in C. About 90% of English Wikipedia's
    sentences are pure ASCII. Same ids as the full tokenizer (tested)."""

    def __init__(self, tokenizer, lowercase: bool, clean: bool):
        self.tokenizer, self.lowercase, self.clean = tokenizer, lowercase, clean

    def normalize(self, sentences: list[str]) -> list[str]:
        if self.lowercase:
            sentences = [s.lower() for s in sentences]
        # Control characters are rare: one scan of the whole batch, and `translate` only if it finds one.
        if self.clean and _HAS_CONTROL.search("".join(sentences)):
            sentences = [s.translate(_ASCII_CONTROL) for s in sentences]
        return sentences


def ascii_twin(tokenizer_json: str) -> AsciiTwin | None:
    """The twin of a tokenizer with BERT's normaliser, or None for any other normaliser."""
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer_json)
    norm = spec.get("normalizer") or {}
    if norm.get("type") != "BertNormalizer":
        return None
    spec["normalizer"] = None
    return AsciiTwin(Tokenizer.from_str(json.dumps(spec)), bool(norm.get("lowercase", True)),
                     bool(norm.get("clean_text", True)))


def _encode_batch(tok, sentences: list[str]):
    # encode_batch_fast (tokenizers >= 0.20) skips the character offsets nobody here reads: ~10% faster.
    return getattr(tok, "encode_batch_fast", tok.encode_batch)(sentences, add_special_tokens=False)


def _encode_sentences(tok, sentences: list[str], twin: AsciiTwin | None = None):
    if twin is None:
        return _encode_batch(tok, sentences)
    is_ascii = [s.isascii() for s in sentences]
    plain = iter(_encode_batch(twin.tokenizer, twin.normalize([s for s, a in zip(sentences, is_ascii) if a])))
    other = iter(_encode_batch(tok, [s for s, a in zip(sentences, is_ascii) if not a]))
    return [next(plain) if a else next(other) for a in is_ascii]


def encode_documents(tok, docs: Documents, dtype, twin=None) -> Encoded:
    """Token ids and flags of `docs` back to back, and each document's token count (0 for empty ones)."""
    sentences = [s for doc in docs for s in doc]
    ids = [e.ids for e in _encode_sentences(tok, sentences, twin)]
    sent_lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=dtype, count=int(sent_lens.sum()))
    doc_of_sentence = np.repeat(np.arange(len(docs)), [len(doc) for doc in docs])
    doc_lens = np.bincount(doc_of_sentence, weights=sent_lens, minlength=len(docs)).astype(np.int64)
    flags = np.zeros(len(flat), dtype=np.uint8)
    sent_starts = np.cumsum(sent_lens) - sent_lens
    flags[sent_starts[sent_lens > 0]] = SENT_START  # empty sentences start nothing
    doc_starts = np.cumsum(doc_lens) - doc_lens
    flags[doc_starts[doc_lens > 0]] |= DOC_START
    return flat, flags, doc_lens


_worker: dict = {}


def _load(tokenizer_json: Path) -> tuple:
    from tokenizers import Tokenizer

    text = Path(tokenizer_json).read_text(encoding="utf-8")
    return Tokenizer.from_str(text), ascii_twin(text)


def _init_worker(tokenizer_json: str, dtype_name: str) -> None:
    # One Rust thread per worker: the workers themselves are the parallelism. Set before tokenizers loads.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _worker["tok"], _worker["twin"] = _load(Path(tokenizer_json))
    _worker["dtype"] = np.dtype(dtype_name)


def encode_paragraph_documents(tok, paragraph_docs: Documents, dtype, twin=None) -> EncodedText:
    """Split documents of paragraphs into sentences, encode them, and count their characters."""
    docs = [split_document(paragraphs) for paragraphs in paragraph_docs]
    chars = sum(len(s) for doc in docs for s in doc)
    return (*encode_documents(tok, docs, dtype, twin), chars)


def _encode_in_worker(paragraph_docs: Documents) -> EncodedText:
    return encode_paragraph_documents(_worker["tok"], paragraph_docs, _worker["dtype"], _worker["twin"])


def default_workers(corpus_bytes: int, requested: int | None) -> int:
    """Worker processes to use: the request, else one per usable core for corpora worth the start-up."""
    if requested:
        return max(1, int(requested))
    return usable_cores() if corpus_bytes >= 16_000_000 else 1  # spawning costs ~1 s: not worth it for small text


def encode_stream(batches: Iterable[Documents], tokenizer_json: Path, dtype, workers: int) -> Iterator[EncodedText]:
    """Split and encode each batch of paragraph documents, yielding results in input order."""
    if workers <= 1:
        tok, twin = _load(tokenizer_json)
        for docs in batches:
            yield encode_paragraph_documents(tok, docs, dtype, twin)
        return
    import multiprocessing
    import sys

    # fork on Linux: no re-import of the caller's __main__ (spawn re-runs unguarded user scripts), and the
    # workers touch only numpy and their own single-threaded tokenizer, never the parent's thread pools.
    # Elsewhere (macOS) fork is unsafe with system frameworks: spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    pool = multiprocessing.get_context(method).Pool(
        workers, initializer=_init_worker, initargs=(str(tokenizer_json), np.dtype(dtype).name))
    try:
        pending: deque = deque()
        for docs in batches:
            pending.append(pool.apply_async(_encode_in_worker, (docs,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()
