"""Read pretraining text as a stream of documents, each a list of sentences.

The embedded default corpus is the English Wikipedia sample inside the gensim wheel (106 articles),
cleaned once into WikiText-style text (` = Title = ` lines, blank lines between paragraphs) and cached.
User corpora are UTF-8 files or folders given in `data.paths`; `builtin:NAME` names a packaged one
(maskbench/data/builtin.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from maskbench.data.builtin import resolve_builtin
from maskbench.data.cache_root import cache_root
from maskbench.data.hub import is_hub
from maskbench.data.hub import text_file as hub_text_file
from maskbench.errors import MaskbenchError

TEXT_SUFFIXES = {".txt", ".text", ".raw", ".md", ".tokens"}
_TITLE = re.compile(r"^ ?= [^=].* = ?$")          # " = Anarchism = "
_HEADING = re.compile(r"^ ?(= ){2,}.*( =){2,} ?$")  # " = = Etymology = = "
# A sentence ends at . ! ? (or CJK 。！？) followed by space and an opening character.
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|(?<=[。！？])")
# The same without the CJK branch: its zero-width match is tried at every position, 60% of the split's time
# on text that has no CJK full stop (the same sentences; the regexes agree there).
_SENT_END_LATIN = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_CJK_ENDS = ("。", "！", "？")
GENSIM_WIKI = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def split_sentences(paragraph: str) -> list[str]:
    pattern = _SENT_END if any(c in paragraph for c in _CJK_ENDS) else _SENT_END_LATIN
    return [s.strip() for s in pattern.split(paragraph) if s and s.strip()]


def _clean_wiki_markup(text: str) -> str:
    text = text.replace("'''", "").replace("''", "")
    out = []
    for line in text.splitlines():
        line = line.strip()
        m = re.fullmatch(r"(=+)\s*(.*?)\s*\1", line)
        if m:  # "==Etymology==" -> WikiText-style "= = Etymology = =" heading line
            depth = len(m.group(1))
            out.append(" " + "= " * depth + m.group(2) + " =" * depth + " ")
            continue
        if line.lower().startswith(("category:", "thumb|", "file:", "image:")):
            continue
        out.append(re.sub(r"\s+", " ", line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


DEFAULT_NAME = "builtin:enwiki_sample"


def default_corpus_path(cache_dir: str | None = None) -> Path:
    """Build (once) and return the cached WikiText-style default corpus from the gensim wheel."""
    target = cache_root(cache_dir) / "corpora" / "enwiki_gensim_4.4.0.txt"
    if target.exists() and target.stat().st_size > 0:
        return target
    try:
        import bz2

        import gensim
        from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    except ImportError:
        raise MaskbenchError(
            "the default corpus needs gensim: `pip install gensim==4.4.0`, or set data.paths=[your_text]") from None
    source = Path(gensim.__file__).parent / "test" / "test_data" / GENSIM_WIKI
    if not source.exists():
        raise MaskbenchError(
            f"gensim does not ship {GENSIM_WIKI}: install gensim==4.4.0, or set data.paths=[your_text]")
    articles = []
    with bz2.open(source) as fh:
        for title, text, _ in extract_pages(fh):
            body = _clean_wiki_markup(filter_wiki(text))
            if not body or body.upper().startswith("#REDIRECT"):
                continue
            articles.append(f" = {title} = \n\n{body}\n")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text("\n".join(articles), encoding="utf-8")
    tmp.replace(target)  # atomic: a half-written corpus is never picked up
    return target


def resolve_paths(paths, cache_dir: str | None = None, text_column: str = "text") -> list[Path]:
    """Expand data.paths (files, folders, builtin:NAME, hf:DATASET) into a list of text files;
    [] = default corpus."""
    if not paths:
        return [default_corpus_path(cache_dir)]
    files: list[Path] = []
    for raw in paths:
        if str(raw) == DEFAULT_NAME:  # the embedded default corpus by name, to mix it with others
            files.append(default_corpus_path(cache_dir))
            continue
        if is_hub(raw):  # hf:NAME_OR_DIR[:CONFIG][@SPLIT] -> its text, streamed once into the cache
            files.append(hub_text_file(str(raw), cache_root(cache_dir), text_column))
            continue
        p = resolve_builtin(raw, cache_dir)  # builtin:NAME -> its cached file
        if not p.exists():
            raise MaskbenchError(f"corpus path {p} does not exist: fix data.paths=[...]")
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
            if not found:
                raise MaskbenchError(
                    f"corpus folder {p} has no text files ({', '.join(sorted(TEXT_SUFFIXES))}): add some or name files")
            files.extend(found)
        else:
            files.append(p)
    return files


def _lines(path: Path) -> Iterator[str]:
    lineno = 0
    try:
        with open(path, encoding="utf-8", errors="strict") as fh:
            for lineno, line in enumerate(fh, 1):
                yield line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise MaskbenchError(
            f"corpus file {path} is not UTF-8 (line {lineno + 1}, byte 0x{exc.object[exc.start]:02x}): "
            f"convert it, e.g. `iconv -f latin1 -t utf-8 {path.name} > fixed.txt`") from None


def _detect_split(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16).decode("utf-8", errors="ignore")
    if any(_TITLE.match(line) for line in head.splitlines()):
        return "wikitext"
    if "\n\n" in head:
        return "blank_lines"
    return "file"


def iter_documents(files: list[Path], doc_split: str = "auto") -> Iterator[list[str]]:
    """Yield documents (lists of sentences) from the files, streaming: memory is bounded by a document."""
    for paragraphs in iter_paragraph_documents(files, doc_split):
        yield split_document(paragraphs)


def split_document(paragraphs: list[str]) -> list[str]:
    """A document's paragraphs -> its sentences."""
    return [s for para in paragraphs for s in split_sentences(para)]


def iter_paragraph_documents(files: list[Path], doc_split: str = "auto") -> Iterator[list[str]]:
    """Yield documents as lists of paragraphs, not yet split into sentences: the cheap, serial part of reading,
    so that corpus preparation can leave the sentence split to its worker processes."""
    for path in files:
        mode = _detect_split(path) if doc_split == "auto" else doc_split
        doc: list[str] = []
        para: list[str] = []

        def flush_para():
            if para:
                doc.append(" ".join(para))
                para.clear()

        for line in _lines(path):
            stripped = line.strip()
            if mode == "wikitext" and _TITLE.match(line):
                flush_para()
                if doc:
                    yield doc
                doc = []
                continue
            if mode == "wikitext" and _HEADING.match(line):
                flush_para()
                continue
            if not stripped:
                flush_para()
                if mode == "blank_lines" and doc:
                    yield doc
                    doc = []
                continue
            if mode == "file" or mode == "blank_lines":
                # Line-oriented text (verse, dialogue): each line is its own unit.
                para.append(stripped)
                flush_para()
            else:
                para.append(stripped)
        flush_para()
        if doc:
            yield doc
