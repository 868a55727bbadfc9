"""What the task kinds share: a task file found and read (UTF-8, one-line errors), plain-line inputs for
predict, label sets, and the encoded `Feature` with its framing (maskbench/arch.py). Each kind's own reader,
encoder, hub converter and metric live in its module (sentence.py, tagging.py, qa.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from maskbench.data.builtin import resolve_builtin
from maskbench.errors import MaskbenchError


@dataclass
class Feature:
    ids: list[int]
    types: list[int]
    label: int | list[int] | tuple[int, int]
    # QA only: which example, and the char span of each context token (None outside the context)
    example: int = -1
    offsets: list = field(default_factory=list)
    # tagging only: the position of each word's first sub-word (None: cut off by max_len, or no sub-words)
    word_starts: list = field(default_factory=list)


def check_task_file(path) -> Path:
    p = resolve_builtin(path)  # builtin:NAME -> its cached file (fine-tuning resolved it into data.cache_dir)
    if not p.is_file():
        raise MaskbenchError(f"task file {p} does not exist: set task.train_file / task.eval_file "
                             f"(or MASKBENCH_DATA to the folder holding sst2/, ud_ewt/, snli/, squad/)")
    return p


def read_lines(p: Path):
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise MaskbenchError(f"{p} is not UTF-8 (byte offset {exc.start}): convert it to UTF-8") from None


def read_plain_lines(path, n_fields: int, shape: str) -> list[list[str]]:
    """One input per non-blank line of a text file, its `n_fields` parts tab-separated (`shape` shows how)."""
    p = check_task_file(path)
    out = []
    for i, line in enumerate(read_lines(p), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if n_fields > 1 else [line]
        if len(parts) != n_fields:
            raise MaskbenchError(f"{p} line {i} has {len(parts)} tab-separated parts: each line must be {shape}")
        out.append(parts)
    if not out:
        raise MaskbenchError(f"{p} has no inputs")
    return out


def label_set(train_labels: list[str], configured, where: str) -> list[str]:
    """The label vocabulary: task.labels if given, else the sorted labels of the training file."""
    labels = [str(x) for x in configured] if configured else sorted(set(train_labels))
    return labels


def check_labels(values: list[str], labels: list[str], where: str) -> None:
    known = set(labels)
    for i, v in enumerate(values):
        if v not in known:
            raise MaskbenchError(f"{where}: label '{v}' (example {i + 1}) is not in the label set {labels}: "
                                 f"fix the data or set task.labels")


def json_objects(p: Path, lines: list[str], hint: str):
    """(line number, object) for each non-blank line of a JSON-lines file; a line that is not a JSON object
    is one error naming it (`hint`: what was expected)."""
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise MaskbenchError(f"{p} line {i} is not JSON: {hint}") from None
        if not isinstance(row, dict):
            raise MaskbenchError(f"{p} line {i} is not a JSON object: {hint}")
        yield i, row
