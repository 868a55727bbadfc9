"""What the task kinds share: a task file found and read (UTF-8, one-line errors), plain-line inputs for
predict, label sets, and the encoded `Feature` with its framing (maskbench/arch.py). Each kind's own reader,
encoder, hub converter, metric and feature fields live in its module (sentence.py, tagging.py, qa.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from maskbench.data.builtin import resolve_builtin
from maskbench.errors import MaskbenchError


@dataclass
class Feature:
    """One encoded input, as every kind batches it: token ids, segment ids, and the label in the kind's shape
    (its `collate_labels` stacks them). What a kind also needs to read its outputs back is a field of its own
    subclass (tagging.TaggedFeature, qa.QAFeature)."""
    ids: list[int]
    types: list[int]
    label: int | list[int] | tuple[int, int]  # a class id; a tag id per position; a (start, end) position span


@dataclass(frozen=True)
class Purpose:
    """What a task file is read for, and so which fix its errors offer: a fine-tuning's files are fixed with
    task.* keys; `maskbench predict` takes the run's task as it is, so its errors name the file alone. Predict's
    inputs may be unlabelled (a missing label field, or a no-label marker in a cell)."""
    predict: bool
    missing_file: str     # a file that is not there
    fields: str           # a header or row without the fields read
    fmt: str              # the format is probably another
    columns: str          # a CoNLL line with too few columns
    labels: str           # a label outside the label set

    def no_label(self, value) -> bool:
        """An empty cell, SNLI's '-' (no gold label) or CoNLL-U's '_' (no value): unlabelled, in predict."""
        return self.predict and (value is None or str(value).strip() in NO_LABEL)


NO_LABEL = ("", "-", "_")
TRAINING = Purpose(False, "set task.train_file / task.eval_file (or MASKBENCH_DATA to the folder holding sst2/, "
                          "ud_ewt/, snli/, squad/)", "set task.text_fields / task.label_field", "set task.format",
                   "set task.word_column / task.tag_column", "fix the data or set task.labels")
PREDICT = Purpose(True, "give predict an existing --file", "give the file the fields the model's task reads",
                  "give the file the suffix of its format (.tsv, .csv, .jsonl, .conllu, .conll, .json, .txt)",
                  "give every line the word and tag columns the model's task reads",
                  "fix the file's labels, or leave them out to predict only")


def check_task_file(path, purpose: Purpose = TRAINING) -> Path:
    p = resolve_builtin(path)  # builtin:NAME -> its cached file (fine-tuning resolved it into data.cache_dir)
    if not p.is_file():
        raise MaskbenchError(f"task file {p} does not exist: {purpose.missing_file}")
    return p


def read_lines(p: Path):
    """The file's lines (a byte-order mark and CRLF endings read as if absent)."""
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MaskbenchError(f"{p} is not UTF-8 (byte offset {exc.start}): convert it to UTF-8") from None
    except IsADirectoryError:
        raise MaskbenchError(f"{p} is a folder: give a file") from None
    if "\x00" in text:
        raise MaskbenchError(f"{p} holds NUL bytes (byte offset {text.index(chr(0))}): it is not a text file; "
                             f"convert it to UTF-8 text") from None
    # Only line breaks end a line (str.splitlines would also cut at form feeds and U+2028 inside a text).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_plain_lines(path, n_fields: int, shape: str) -> list[tuple[int, list[str]]]:
    """(line number, parts) per non-blank line of a text file (predict's inputs), its `n_fields` parts
    tab-separated (`shape` shows how)."""
    p = check_task_file(path, PREDICT)
    out = []
    for i, line in enumerate(read_lines(p), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if n_fields > 1 else [line]
        if len(parts) != n_fields:
            raise MaskbenchError(f"{p} line {i} has {len(parts)} tab-separated parts: each line must be {shape}")
        out.append((i, parts))
    if not out:
        raise MaskbenchError(f"{p} has no inputs")
    return out


def label_set(train_labels: list[str], configured, where: str) -> list[str]:
    """The label vocabulary: task.labels if given, else the sorted labels of the training file."""
    labels = [str(x) for x in configured] if configured else sorted(set(train_labels))
    return labels


def check_labels(values: list, labels: list[str], where: str, purpose: Purpose = TRAINING) -> None:
    """Every label (None: unlabelled) is in `labels`; `values` are (label, line or example number) pairs."""
    known = set(labels)
    for v, at in values:
        if v is not None and v not in known:
            shown = labels if len(labels) <= 20 else labels[:20] + ["…"]
            raise MaskbenchError(f"{where}: label '{v}' ({at}) is not in the label set {shown}: {purpose.labels}")


def json_objects(p: Path, lines: list[str], hint: str):
    """(line number, object) for each non-blank line of a JSON-lines file; a line that is not a JSON object
    is one error naming it (`hint`: what was expected)."""
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply to be an example
            raise MaskbenchError(f"{p} line {i} is not JSON: {hint}") from None
        if not isinstance(row, dict):
            raise MaskbenchError(f"{p} line {i} is not a JSON object: {hint}")
        yield i, row
