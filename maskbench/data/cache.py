"""Tokenize a corpus once into a memory-mapped token cache (corpora larger than RAM work).

Layout of a cache folder (one per corpus + tokenizer + split settings):
  tokenizer.json
  {train,val}.tokens.bin   uint16 (or uint32 for vocabularies over 65,536) token ids, documents back to back
  {train,val}.flags.bin    uint8 per token: bit 1 = a sentence starts here, bit 2 = a document starts here
  meta.json                counts and settings; written last, so a folder without it is incomplete
Documents go to validation by index (every k-th, k = round(1/val_fraction)): a document-level split.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from maskbench.data.corpus import cache_root, iter_documents, resolve_paths
from maskbench.data.encode_pool import default_workers, encode_stream
from maskbench.data.pinned import pinned_tokenizer
from maskbench.data.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.runs.lock import FolderLock
from maskbench.runs.rundir import sha256_file

_ENCODE_BATCH = 2048  # sentences per encode_batch call: large enough for the Rust thread pool, small
                      # enough that 2 x workers batches in flight stay a few MB


def _corpus_fingerprint(files: list[Path], d, tokenizer_file: Path | None) -> str:
    """The cache key: each file's content (a hash: an edit that keeps size and time still counts),
    the settings, and the given tokenizer."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.resolve()}|{sha256_file(f)}\n".encode())
    h.update(f"{d.vocab_size}|{d.lowercase}|{d.n_sentinels}|{d.doc_split}|{d.val_fraction}|"
             f"{d.get('tokenizer_sample_mb')}|v1".encode())
    if tokenizer_file is not None:  # _given_tokenizer checked that it exists
        h.update(tokenizer_file.read_bytes())
    return h.hexdigest()[:16]


def _given_tokenizer(files: list[Path], d) -> Path | None:
    """data.tokenizer_file if set, else the tokenizer pinned for a packaged corpus, else None (train one)."""
    if d.get("tokenizer_file"):
        given = Path(str(d.tokenizer_file)).expanduser()
        if not given.is_file():
            raise MaskbenchError(f"data.tokenizer_file={given} does not exist: give a tokenizer.json (runs keep one)")
        return given
    return pinned_tokenizer(files, d)


def _sentence_batches(files, doc_split, max_chars: float, batch=_ENCODE_BATCH):
    """Sentence batches for tokenizer training, stopping after `max_chars` characters."""
    buf: list[str] = []
    seen = 0
    for doc in iter_documents(files, doc_split):
        buf.extend(doc)
        seen += sum(map(len, doc))
        if len(buf) >= batch:
            yield buf
            buf = []
        if seen >= max_chars:
            break
    if buf:
        yield buf


class _ByteProgress:
    """A rich progress bar over the corpus bytes (enabled for interactive preparation)."""

    def __init__(self, total: int, enabled: bool):
        self.prog = None
        if enabled:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, \
                TransferSpeedColumn

            self.prog = Progress(TextColumn("tokenizing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 TimeRemainingColumn(), transient=True)
            self.task = self.prog.add_task("tokenize", total=total)
            self.prog.start()

    def advance(self, n: int):
        if self.prog:
            self.prog.update(self.task, advance=n)

    def close(self):
        if self.prog:
            self.prog.stop()


class _Writer:
    """Appends token ids and flags to the two binary files of one split."""

    def __init__(self, folder: Path, split: str):
        self.tokens = open(folder / f"{split}.tokens.bin", "wb")
        self.flags = open(folder / f"{split}.flags.bin", "wb")
        self.n_tokens = 0
        self.n_docs = 0
        self.digest = hashlib.sha256()  # of the ids as written: the cache checks itself against it

    def write(self, tokens: np.ndarray, flags: np.ndarray, n_docs: int) -> None:
        data = tokens.tobytes()
        self.tokens.write(data)
        self.digest.update(data)
        self.flags.write(flags.tobytes())
        self.n_tokens += len(tokens)
        self.n_docs += n_docs

    def close(self):
        self.tokens.close()
        self.flags.close()


def build_cache(d, progress=None, show_bar: bool = False) -> Path:
    """Return the cache folder for data config `d`, building it if needed (atomic rename when done)."""
    files = resolve_paths(d.paths, d.cache_dir, str(d.get("text_column") or "text"))
    given = _given_tokenizer(files, d)
    key = _corpus_fingerprint(files, d, given)
    folder = cache_root(d.cache_dir) / "tokens" / key
    say = progress or (lambda msg: None)
    if cache_problem(folder) is None:
        return folder
    # One builder per cache entry: a second process waits, then uses what the first built.
    with FolderLock(folder.with_name(folder.name + ".lock"), f"token cache {folder}", wait=True):
        problem = cache_problem(folder)
        if problem is None:
            return folder
        if folder.exists():  # damaged, or never finished: build anew
            say(f"token cache {folder.name}: {problem}; rebuilding it")
            shutil.rmtree(folder, ignore_errors=True)
        return _build(d, files, given, folder, progress, show_bar)


def cache_problem(folder: Path) -> str | None:
    """What is wrong with a token cache folder, or None: meta.json present, every file of the size it
    says, the dtype one maskbench writes, and the ids those it wrote (their SHA-256)."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        dtype = np.dtype(meta["dtype"])
        if dtype not in (np.uint16, np.uint32):
            return f"unknown dtype {meta['dtype']}"
        for split in ("train", "val"):
            n = int(meta[f"{split}_tokens"])
            if (folder / f"{split}.tokens.bin").stat().st_size != n * dtype.itemsize:
                return f"{split}.tokens.bin is not the size meta.json says"
            if (folder / f"{split}.flags.bin").stat().st_size != n:
                return f"{split}.flags.bin is not the size meta.json says"
            digest = (meta.get("sha256") or {}).get(split)
            if digest is not None and sha256_file(folder / f"{split}.tokens.bin") != digest:
                return f"{split}.tokens.bin does not match its checksum"
    except FileNotFoundError:
        return "incomplete (no meta.json or a missing file)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"meta.json unreadable ({str(exc)[:60]})"
    return None


def _build(d, files, given, folder: Path, progress, show_bar: bool) -> Path:
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.time()
    say = progress or (lambda msg: None)

    sample_mb = d.get("tokenizer_sample_mb") or float("inf")
    if given is None:
        say(f"training a {d.vocab_size}-piece WordPiece tokenizer on {len(files)} file(s)"
            + (f" (first {sample_mb:g} MB)" if sample_mb != float("inf") else ""))
    else:
        say(f"using the tokenizer {given}")
    n_sentences = 0

    def counted():
        nonlocal n_sentences
        for batch in _sentence_batches(files, d.doc_split, sample_mb * 1e6):
            n_sentences += len(batch)
            yield batch

    if given is not None:
        tok = load_tokenizer(given)
        n_sentences = sum(len(b) for b in _sentence_batches(files, d.doc_split, 1e6))  # emptiness check only
    else:
        tok = train_tokenizer(counted(), d.vocab_size, d.n_sentinels, d.lowercase)
    if n_sentences == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MaskbenchError(
            f"the corpus is empty ({', '.join(str(f) for f in files[:3])}): give data.paths with some text")
    save_tokenizer(tok, tmp / "tokenizer.json")
    dtype = np.uint16 if tok.get_vocab_size() <= 65536 else np.uint32

    say("tokenizing the corpus into the memory-mapped cache")
    every = max(2, round(1.0 / d.val_fraction)) if d.val_fraction > 0 else 0
    writers = {"train": _Writer(tmp, "train"), "val": _Writer(tmp, "val")}
    n_bytes = 0
    total_bytes = sum(f.stat().st_size for f in files)
    bar = _ByteProgress(total_bytes, show_bar)

    def document_batches():
        nonlocal n_bytes
        batch: list[list[str]] = []
        n_sentences = 0
        for doc in iter_documents(files, d.doc_split):
            batch.append(doc)
            n_sentences += len(doc)
            chars = sum(map(len, doc))
            n_bytes += chars
            bar.advance(chars)
            if n_sentences >= _ENCODE_BATCH:
                yield batch
                batch, n_sentences = [], 0
        if batch:
            yield batch

    workers = default_workers(total_bytes, d.get("prepare_workers"))
    first_doc = 0
    try:
        for tokens, flags, doc_lens in encode_stream(document_batches(), tmp / "tokenizer.json", dtype, workers):
            # Document-level split by document index; boolean masks keep each split's order.
            doc_idx = first_doc + np.arange(len(doc_lens))
            first_doc += len(doc_lens)
            is_val = (doc_idx % every == every - 1) if every else np.zeros(len(doc_lens), dtype=bool)
            token_is_val = np.repeat(is_val, doc_lens)
            for split, docs_in, toks_in in (("train", ~is_val, ~token_is_val), ("val", is_val, token_is_val)):
                writers[split].write(tokens[toks_in], flags[toks_in], int((doc_lens[docs_in] > 0).sum()))
    finally:
        bar.close()
    for w in writers.values():
        w.close()
    if writers["val"].n_docs == 0 and d.val_fraction > 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MaskbenchError(
            f"the corpus has {writers['train'].n_docs} document(s), too few for a {d.val_fraction:g} "
            f"validation split: add documents (blank lines separate them) or raise data.val_fraction")
    meta = {
        "files": [str(f) for f in files], "dtype": np.dtype(dtype).name, "vocab_size": tok.get_vocab_size(),
        "train_tokens": writers["train"].n_tokens, "val_tokens": writers["val"].n_tokens,
        "train_docs": writers["train"].n_docs, "val_docs": writers["val"].n_docs,
        "text_chars": n_bytes, "build_s": round(time.time() - t0, 2),
        "sha256": {s: w.digest.hexdigest() for s, w in writers.items()},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if folder.exists():  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    say(f"cached {meta['train_tokens']:,} train / {meta['val_tokens']:,} val tokens in {meta['build_s']} s")
    return folder


def load_cache_tokenizer(folder: Path):
    return load_tokenizer(folder / "tokenizer.json")
