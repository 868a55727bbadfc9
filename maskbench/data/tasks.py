"""Readers for the downstream formats users hold, each returning plain Python examples.

- GLUE-style TSV/CSV with a header, and JSON lines, with configurable field names;
- CoNLL-U (multi-word `1-2` and empty-node `8.1` lines skipped) and whitespace-column CoNLL;
- SQuAD v1.1 JSON.
A malformed file is a one-line error naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from maskbench.data.builtin import resolve_builtin
from maskbench.errors import MaskbenchError


@dataclass
class TextExample:
    texts: list[str]
    label: str | None          # None: unlabelled (what `maskbench predict` may be given)


@dataclass
class TaggedSentence:
    words: list[str]
    tags: list[str] | None     # None: untagged


@dataclass
class QAExample:
    qid: str
    question: str
    context: str
    answers: list[str]
    answer_starts: list[int] = field(default_factory=list)


def _check_file(path) -> Path:
    p = resolve_builtin(path)  # builtin:NAME -> its cached file (fine-tuning resolved it into data.cache_dir)
    if not p.is_file():
        raise MaskbenchError(f"task file {p} does not exist: set task.train_file / task.eval_file "
                             f"(or MASKBENCH_DATA to the folder holding sst2/, ud_ewt/, snli/, squad/)")
    return p


def _open_text(p: Path):
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise MaskbenchError(f"{p} is not UTF-8 (byte offset {exc.start}): convert it to UTF-8") from None


def read_text_examples(path, fmt: str, text_fields: list[str], label_field: str,
                       labels_optional: bool = False) -> list[TextExample]:
    """`labels_optional`: a file without the label field (or a row without a label) gives unlabelled examples."""
    p = _check_file(path)
    lines = _open_text(p)
    rows: list[tuple[int, dict]] = []
    if fmt in ("tsv", "csv"):
        reader = csv.DictReader(lines, delimiter="\t" if fmt == "tsv" else ",", quoting=csv.QUOTE_NONE
                                if fmt == "tsv" else csv.QUOTE_MINIMAL)
        header = reader.fieldnames or []
        if labels_optional and label_field not in header:
            label_field = None
        missing = [f for f in [*text_fields, label_field] if f is not None and f not in header]
        if missing:
            raise MaskbenchError(f"{p} line 1: header {header} lacks {missing}: set task.text_fields / "
                                 f"task.label_field, or task.format if this is not {fmt.upper()}")
        for i, row in enumerate(reader, 2):
            if None in row or any(row.get(f) is None for f in [*text_fields, label_field] if f is not None):
                raise MaskbenchError(f"{p} line {i}: expected {len(header)} {fmt.upper()} columns: fix the line "
                                     f"or set task.format")
            rows.append((i, row))
    elif fmt == "jsonl":
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise MaskbenchError(f"{p} line {i} is not JSON: is task.format=jsonl right?") from None
            if not isinstance(row, dict):
                raise MaskbenchError(f"{p} line {i} is not a JSON object: expected one example per line")
            rows.append((i, row))
    else:
        raise MaskbenchError(f"task.format={fmt} does not fit a text task: use tsv, csv or jsonl")
    out = []
    for i, row in rows:
        label = label_field if label_field is not None and (not labels_optional or label_field in row) else None
        for f in [*text_fields, label] if label is not None else text_fields:
            if f not in row:
                raise MaskbenchError(f"{p} line {i} has no field '{f}': set task.text_fields / task.label_field")
            if row[f] is None or isinstance(row[f], (dict, list)):  # would train on the text "None" or "[...]"
                raise MaskbenchError(f"{p} line {i}: '{f}' is {json.dumps(row[f])}, not a text or label: fill or "
                                     f"drop that line")
        out.append(TextExample([str(row[f]) for f in text_fields], None if label is None else str(row[label])))
    if not out:
        raise MaskbenchError(f"{p} has no examples")
    return out


def read_tagged(path, fmt: str, word_column: int, tag_column: int, tags_optional: bool = False) -> list[TaggedSentence]:
    """CoNLL-U (fmt='conllu', tab-separated, 10 columns) or whitespace-column CoNLL (fmt='conll').
    `tags_optional`: CoNLL lines with the word column only give untagged sentences."""
    p = _check_file(path)
    sentences, words, tags = [], [], []

    def close():
        sentences.append(TaggedSentence(words, None if None in tags else tags))

    for i, line in enumerate(_open_text(p), 1):
        if not line.strip():
            if words:
                close()
                words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t") if fmt == "conllu" else line.split()
        if fmt == "conllu":
            if len(cols) != 10:
                raise MaskbenchError(f"{p} line {i} is not CoNLL-U (expected 10 tab-separated columns, got "
                                     f"{len(cols)}): is task.format=conllu right?")
            if "-" in cols[0] or "." in cols[0]:
                continue  # multi-word token ranges and empty nodes carry no tag of their own
        if len(cols) <= word_column or (len(cols) <= tag_column and not tags_optional):
            raise MaskbenchError(f"{p} line {i} has {len(cols)} columns, task.tag_column={tag_column} needs more")
        words.append(cols[word_column])
        tags.append(cols[tag_column] if len(cols) > tag_column else None)
    if words:
        close()
    if not sentences:
        raise MaskbenchError(f"{p} has no sentences")
    return sentences


def read_plain_lines(path, n_fields: int, shape: str) -> list[list[str]]:
    """One input per non-blank line of a text file, its `n_fields` parts tab-separated (`shape` shows how)."""
    p = _check_file(path)
    out = []
    for i, line in enumerate(_open_text(p), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if n_fields > 1 else [line]
        if len(parts) != n_fields:
            raise MaskbenchError(f"{p} line {i} has {len(parts)} tab-separated parts: each line must be {shape}")
        out.append(parts)
    if not out:
        raise MaskbenchError(f"{p} has no inputs")
    return out


def read_squad(path, answers_optional: bool = False) -> list[QAExample]:
    """`answers_optional`: questions without "answers" are read as unanswered (what predict is given)."""
    p = _check_file(path)
    try:
        data = json.loads("\n".join(_open_text(p)))
        out = []
        for article in data["data"]:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    answers = qa.get("answers", []) if answers_optional else qa["answers"]
                    out.append(QAExample(qa["id"], qa["question"], para["context"], [a["text"] for a in answers],
                                         [a["answer_start"] for a in answers]))
    except json.JSONDecodeError as exc:
        raise MaskbenchError(f"{p} line {exc.lineno} is not JSON: expected SQuAD v1.1 JSON") from None
    except (KeyError, TypeError) as exc:
        raise MaskbenchError(f"{p} is not SQuAD v1.1 JSON (missing {exc}): expected data[].paragraphs[].qas[]") from None
    if not out:
        raise MaskbenchError(f"{p} has no questions")
    for ex in out:  # a wrong offset would silently train on the wrong span
        for text, start in zip(ex.answers, ex.answer_starts):
            if not isinstance(start, int) or ex.context[start:start + len(text)] != text:
                found = ex.context.find(text)
                hint = f"the text occurs at {found}" if found >= 0 else "the text is not in the context"
                raise MaskbenchError(f"{p}: question {ex.qid}: answer_start {start} does not point at its answer "
                                     f"{text[:40]!r} ({hint}): fix the offsets")
    return out


def read_qa_lines(path) -> list[QAExample]:
    """JSON lines {"question", "context"} (optional "id", and "answers" as a list of texts) for predict."""
    p = _check_file(path)
    out = []
    for i, line in enumerate(_open_text(p), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise MaskbenchError(f"{p} line {i} is not JSON: expected {{\"question\": ..., \"context\": ...}}") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("question", "context")):
            raise MaskbenchError(f"{p} line {i} needs \"question\" and \"context\" texts")
        answers = row.get("answers") or []
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise MaskbenchError(f"{p} line {i}: \"answers\" must be a list of texts")
        out.append(QAExample(str(row.get("id", i)), row["question"], row["context"], answers))
    if not out:
        raise MaskbenchError(f"{p} has no questions")
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
