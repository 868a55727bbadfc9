"""Minimal-pair files: BLiMP's JSON lines and a plain TSV, each line one grammatical and one ungrammatical sentence.

  *.jsonl            {"sentence_good": ..., "sentence_bad": ..., "UID": paradigm, "field": ...} per line (BLiMP's
                     own files; UID and field optional: the group is then the file's name)
  *.tsv / *.txt      sentence_good<TAB>sentence_bad[<TAB>group] per line (a header line naming sentence_good is
                     skipped; without a group column the group is the file's name)

A folder is read file by file (its .jsonl, .tsv and .txt files, sorted); several --pairs add up. Every problem of a
file (not a regular file, not UTF-8, a NUL byte, a missing field, a wrong number of columns, no pairs at all) is one
line naming the file and line. Lines end at \n, \r\n or \r only: a form feed, NEL or U+2028 inside a sentence (JSON
allows U+2028 unescaped in a string) is text, not a line break.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from maskbench.errors import MaskbenchError

SUFFIXES = (".jsonl", ".tsv", ".txt")
LINE_END = re.compile(r"\r\n|\r|\n")  # Python's universal newlines; str.splitlines() also breaks at \x0c, \x85, U+2028
FORMAT_HINT = ("BLiMP JSON lines (sentence_good, sentence_bad, UID) or TSV lines "
               "(sentence_good<TAB>sentence_bad[<TAB>group])")


@dataclass(frozen=True)
class Pair:
    good: str
    bad: str
    group: str          # the paradigm (BLiMP's UID) or the TSV's group column, else the file's name
    field: str | None   # BLiMP's field (syntax, morphology, semantics, syntax_semantics), if given
    where: str          # FILE:LINE, for messages


def pair_files(paths, what: str = "--pairs ") -> list[Path]:
    """The files behind --pairs (files as given, folders' .jsonl/.tsv/.txt files sorted), each once. `what` names
    the option in the refusals (`compare.zero_shot=`)."""
    if not paths:
        raise MaskbenchError(f"give {what}PATH: a file or folder of {FORMAT_HINT}")
    out: list[Path] = []
    for given in paths:
        p = Path(str(given)).expanduser()
        if not p.exists():
            raise MaskbenchError(f"{what}{given} does not exist: give a file or folder of {FORMAT_HINT}")
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUFFIXES)
            if not found:
                raise MaskbenchError(f"{what}{given} holds no .jsonl, .tsv or .txt files: give a folder of "
                                     f"{FORMAT_HINT}")
            out += found
        elif p.suffix.lower() not in SUFFIXES:
            raise MaskbenchError(f"{what}{given}: the suffix says the format; give a .jsonl (BLiMP) or .tsv/.txt "
                                 f"file")
        elif not p.is_file():  # a FIFO would wait for a writer forever, a device never end
            raise MaskbenchError(f"{what}{given} is not a regular file (a pipe, socket or device): save the pairs "
                                 f"to a file and give its path")
        else:
            out.append(p)
    seen, unique = set(), []
    for f in out:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique


def read_pairs(paths, what: str = "--pairs ") -> list[Pair]:
    """Every pair of every file behind `paths`, in file and line order."""
    pairs: list[Pair] = []
    for f in pair_files(paths, what):
        pairs += read_file(f)
    return pairs


def read_file(path: Path) -> list[Pair]:
    text = _text(path)
    reader = _jsonl_line if path.suffix.lower() == ".jsonl" else _tsv_line
    pairs = []
    for n, line in enumerate(LINE_END.split(text), 1):
        if not line.strip():
            continue
        pair = reader(line, path, n)
        if pair is not None:
            pairs.append(pair)
    if not pairs:
        raise MaskbenchError(f"{path} holds no pairs: give {FORMAT_HINT}")
    return pairs


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MaskbenchError(f"{path} cannot be read ({exc.strerror or exc}): give a readable file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise MaskbenchError(f"{path} is not UTF-8 text (byte {exc.start}, line {line}): save it as UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise MaskbenchError(f"{path} line {line} holds a NUL byte: give a text file of {FORMAT_HINT}")
    return text


def _sentence(value, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise MaskbenchError(f"{where}: {key} is {type(value).__name__}, not text: give both sentences as strings")
    if not value.strip():
        raise MaskbenchError(f"{where}: {key} is empty: every pair needs two sentences")
    return value.strip()


def _jsonl_line(line: str, path: Path, n: int) -> Pair:
    where = f"{path}:{n}"
    try:
        row = json.loads(line)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:80] if isinstance(exc, ValueError) else "nested too deeply"
        raise MaskbenchError(f"{where} is not a JSON object ({reason}): give one BLiMP object per line") from None
    if not isinstance(row, dict):
        raise MaskbenchError(f"{where} is a JSON {type(row).__name__}, not an object: give one BLiMP object per line "
                             f"with sentence_good and sentence_bad")
    for key in ("sentence_good", "sentence_bad"):
        if key not in row:
            raise MaskbenchError(f"{where} has no \"{key}\" field: BLiMP lines have sentence_good and sentence_bad "
                                 f"(UID, field optional)")
    group = row.get("UID", path.stem)
    field = row.get("field")
    return Pair(_sentence(row["sentence_good"], "sentence_good", where),
                _sentence(row["sentence_bad"], "sentence_bad", where),
                str(group) if group not in (None, "") else path.stem, str(field) if field not in (None, "") else None,
                where)


def _tsv_line(line: str, path: Path, n: int) -> Pair | None:
    where = f"{path}:{n}"
    cols = line.split("\t")
    if n == 1 and cols[0].strip().lower() == "sentence_good":
        return None  # a header
    if len(cols) not in (2, 3):
        raise MaskbenchError(f"{where} has {len(cols)} tab-separated column{'s' if len(cols) != 1 else ''}: give "
                             f"sentence_good<TAB>sentence_bad[<TAB>group]")
    group = cols[2].strip() if len(cols) == 3 and cols[2].strip() else path.stem
    return Pair(_sentence(cols[0], "sentence_good", where), _sentence(cols[1], "sentence_bad", where), group, None,
                where)


def groups_in_order(pairs: list[Pair]) -> list[str]:
    """The groups, in the order they first appear."""
    return list(dict.fromkeys(p.group for p in pairs))
