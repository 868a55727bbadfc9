"""Tokenize a corpus once into a memory-mapped token cache (corpora larger than RAM work), one file at a
time, so that adding a file to a corpus encodes only that file.

  tokens/<corpus key>/     what training reads: tokenizer.json, meta.json (written last: a folder without
                           it is incomplete), {train,val}.tokens.bin (uint16, or uint32 for vocabularies over
                           65,536: documents back to back) and {train,val}.flags.bin (uint8 per token: bit 1 =
                           a sentence starts here, bit 2 = a document starts here) — the concatenation, in
                           data.paths order, of:
  tokens/shards/<key>/     one corpus file encoded with one tokenizer (same layout), keyed by the file's
                           content, the tokenizer and the split settings: reused by every corpus holding it;
  tokens/tokenizers/<key>.json  a trained tokenizer, keyed by the text it was trained on (the first
                           data.tokenizer_sample_mb of the corpus) and the vocabulary settings: a corpus that
                           grows past that sample keeps its tokenizer, and so its shards.
Documents go to validation by their index in their file (every k-th, k = round(1/val_fraction)): a
document-level split that a later file cannot shift.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from maskbench.data.cache_root import cache_root
from maskbench.data.corpus import iter_documents, iter_paragraph_documents, resolve_paths
from maskbench.data.encode_pool import default_workers, encode_stream
from maskbench.data.pinned import pinned_tokenizer
from maskbench.data.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.files import FolderLock
from maskbench.files import sha256_file

_TRAINING_BATCH = 2048  # sentences per tokenizer-training batch
_ENCODE_BATCH_CHARS = 256_000  # text per encoding job (~2,000 Wikipedia sentences): large enough for the Rust
                               # thread pool, small enough that 2 x workers jobs in flight stay a few MB


def _corpus_fingerprint(files: list[Path], digests: list[str], d, tokenizer_file: Path | None) -> str:
    """The cache key: each file's content (a hash: an edit that keeps size and time still counts),
    the settings, and the given tokenizer."""
    h = hashlib.sha256()
    for f, digest in zip(files, digests):
        h.update(f"{f.resolve()}|{digest}\n".encode())
    h.update(f"{d.vocab_size}|{d.lowercase}|{d.n_sentinels}|{d.doc_split}|{d.val_fraction}|"
             f"{d.tokenizer_sample_mb}|v2".encode())
    if tokenizer_file is not None:  # _given_tokenizer checked that it exists
        h.update(tokenizer_file.read_bytes())
    return h.hexdigest()[:16]


def _given_tokenizer(files: list[Path], d) -> Path | None:
    """data.tokenizer_file if set, else the tokenizer pinned for a packaged corpus, else None (train one)."""
    if d.tokenizer_file:
        given = Path(str(d.tokenizer_file)).expanduser()
        if not given.is_file():
            raise MaskbenchError(f"data.tokenizer_file={given} does not exist: give a tokenizer.json (runs keep one)")
        return given
    return pinned_tokenizer(files, d)


def _sentence_batches(files, doc_split, max_chars: float, batch=_TRAINING_BATCH):
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
    files = resolve_paths(d.paths, d.cache_dir, d.text_column)
    given = _given_tokenizer(files, d)
    digests = [sha256_file(f) for f in files]  # read once: the corpus key and the shard keys both need them
    key = _corpus_fingerprint(files, digests, d, given)
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
        return _build(d, files, digests, given, folder, progress, show_bar)


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


def _build(d, files, digests, given, folder: Path, progress, show_bar: bool) -> Path:
    t0 = time.time()
    say = progress or (lambda msg: None)
    root = folder.parent
    tok_path = given if given is not None else _trained_tokenizer(d, files, root / "tokenizers", say)
    say(f"using the tokenizer {tok_path}" if given is not None else f"tokenizer {tok_path.name}")
    tok = load_tokenizer(tok_path)
    dtype = np.uint16 if tok.get_vocab_size() <= 65536 else np.uint32
    shards = [(f, root / "shards" / _shard_key(digest, tok_path, d)) for f, digest in zip(files, digests)]
    todo = [(f, sh) for f, sh in shards if cache_problem(sh) is not None]
    if todo:
        say(f"tokenizing {len(todo)} of {len(files)} corpus file(s) into the memory-mapped cache"
            + (f" ({len(files) - len(todo)} already encoded)" if len(todo) < len(files) else ""))
    bar = _ByteProgress(sum(f.stat().st_size for f, _ in todo), show_bar)
    try:
        for f, sh in todo:
            _encode_file(d, f, tok_path, dtype, sh, bar, workers=default_workers(f.stat().st_size,
                                                                                d.prepare_workers))
    finally:
        bar.close()
    tmp = folder.with_name(folder.name + f".building{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy(tok_path, tmp / "tokenizer.json")
    metas = [json.loads((sh / "meta.json").read_text()) for _, sh in shards]
    counts = {}
    for split in ("train", "val"):  # the corpus = its files' shards back to back (a byte copy)
        digest = hashlib.sha256()
        for kind in ("tokens", "flags"):
            with open(tmp / f"{split}.{kind}.bin", "wb") as out:
                for _, sh in shards:
                    with open(sh / f"{split}.{kind}.bin", "rb") as src:
                        for chunk in iter(lambda: src.read(1 << 22), b""):
                            out.write(chunk)
                            if kind == "tokens":
                                digest.update(chunk)
        counts[split] = (sum(m[f"{split}_tokens"] for m in metas), sum(m[f"{split}_docs"] for m in metas),
                         digest.hexdigest())
    if counts["train"][1] + counts["val"][1] == 0 or counts["train"][0] == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MaskbenchError(
            f"the corpus is empty ({', '.join(str(f) for f in files[:3])}): give data.paths with some text")
    if counts["val"][1] == 0 and d.val_fraction > 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MaskbenchError(
            f"the corpus has {counts['train'][1]} document(s), too few for a {d.val_fraction:g} "
            f"validation split: add documents (blank lines separate them) or raise data.val_fraction")
    meta = {
        "files": [str(f) for f in files], "shards": [sh.name for _, sh in shards], "dtype": np.dtype(dtype).name,
        "vocab_size": tok.get_vocab_size(), "train_tokens": counts["train"][0], "val_tokens": counts["val"][0],
        "train_docs": counts["train"][1], "val_docs": counts["val"][1],
        "text_chars": sum(m["text_chars"] for m in metas), "build_s": round(time.time() - t0, 2),
        "sha256": {split: counts[split][2] for split in ("train", "val")},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if folder.exists():  # another process finished first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(folder)
    say(f"cached {meta['train_tokens']:,} train / {meta['val_tokens']:,} val tokens in {meta['build_s']} s")
    return folder


def _trained_tokenizer(d, files, folder: Path, say) -> Path:
    """The WordPiece tokenizer for the first data.tokenizer_sample_mb of the corpus, trained once per sample:
    keyed by that text and the vocabulary settings, so a corpus that grows beyond its sample keeps it."""
    sample_mb = d.tokenizer_sample_mb or float("inf")
    h = hashlib.sha256(f"{d.vocab_size}|{d.n_sentinels}|{d.lowercase}|{d.doc_split}|{sample_mb}|v1".encode())
    n_sentences = 0
    for batch in _sentence_batches(files, d.doc_split, sample_mb * 1e6):
        n_sentences += len(batch)
        for sentence in batch:
            h.update(sentence.encode("utf-8", "surrogatepass") + b"\n")
    if n_sentences == 0:
        raise MaskbenchError(
            f"the corpus is empty ({', '.join(str(f) for f in files[:3])}): give data.paths with some text")
    path = folder / f"{h.hexdigest()[:16]}.json"
    if path.exists():
        return path
    say(f"training a {d.vocab_size}-piece WordPiece tokenizer on {len(files)} file(s)"
        + (f" (first {sample_mb:g} MB)" if sample_mb != float("inf") else ""))
    tok = train_tokenizer(_sentence_batches(files, d.doc_split, sample_mb * 1e6), d.vocab_size, d.n_sentinels,
                          d.lowercase)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_tokenizer(tok, tmp)
    os.replace(tmp, path)
    return path


def _shard_key(file_digest: str, tokenizer: Path, d) -> str:
    h = hashlib.sha256(f"{file_digest}|{d.doc_split}|{d.val_fraction}|shard-v1".encode())
    h.update(tokenizer.read_bytes())
    return h.hexdigest()[:16]


def _encode_file(d, file: Path, tokenizer: Path, dtype, shard: Path, bar, workers: int) -> None:
    """One corpus file -> its shard folder (train/val split by document index within the file)."""
    tmp = shard.with_name(shard.name + f".building{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    every = max(2, round(1.0 / d.val_fraction)) if d.val_fraction > 0 else 0
    writers = {"train": _Writer(tmp, "train"), "val": _Writer(tmp, "val")}
    n_chars = 0

    def document_batches():  # documents of paragraphs; the workers split them into sentences
        batch: list[list[str]] = []
        chars = 0
        for doc in iter_paragraph_documents([file], d.doc_split):
            batch.append(doc)
            doc_chars = sum(map(len, doc))
            chars += doc_chars
            bar.advance(doc_chars)
            if chars >= _ENCODE_BATCH_CHARS:
                yield batch
                batch, chars = [], 0
        if batch:
            yield batch

    first_doc = 0
    for tokens, flags, doc_lens, chars in encode_stream(document_batches(), tokenizer, dtype, workers):
        n_chars += chars
        # Document-level split by document index; boolean masks keep each split's order.
        doc_idx = first_doc + np.arange(len(doc_lens))
        first_doc += len(doc_lens)
        is_val = (doc_idx % every == every - 1) if every else np.zeros(len(doc_lens), dtype=bool)
        token_is_val = np.repeat(is_val, doc_lens)
        for split, docs_in, toks_in in (("train", ~is_val, ~token_is_val), ("val", is_val, token_is_val)):
            writers[split].write(tokens[toks_in], flags[toks_in], int((doc_lens[docs_in] > 0).sum()))
    for w in writers.values():
        w.close()
    meta = {"file": str(file), "dtype": np.dtype(dtype).name, "text_chars": n_chars,
            "train_tokens": writers["train"].n_tokens, "val_tokens": writers["val"].n_tokens,
            "train_docs": writers["train"].n_docs, "val_docs": writers["val"].n_docs,
            "sha256": {s: w.digest.hexdigest() for s, w in writers.items()}}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    if shard.exists():
        shutil.rmtree(shard)  # damaged (cache_problem said so) or built meanwhile by another corpus: ours is whole
    tmp.rename(shard)


def load_cache_tokenizer(folder: Path):
    return load_tokenizer(folder / "tokenizer.json")
