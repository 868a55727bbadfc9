"""Single-sentence classification (SST-2, review sentiment): a pooled state -> a label."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

from maskbench.arch import arch_of
from maskbench.batch import IGNORE
from maskbench.data.hub import cache_target, label_name, need_columns, task_dataset, write_cached
from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option
from maskbench.config.schema.task import TaskConfig
from maskbench.tasks.base import Predictor, TaskKind, classification_loss
from maskbench.tasks.common import (PREDICT, TRAINING, Feature, Purpose, check_labels, check_task_file,
                                    json_objects, label_set, read_lines, read_plain_lines)

if TYPE_CHECKING:
    from maskbench.data.tokenizer import Vocab


@dataclass(frozen=True)
class SentenceTask(TaskConfig):
    labels: Optional[List[Any]] = None      # null = the sorted labels of the training file
    text_fields: List[str] = option(factory=lambda: ["sentence"])
    label_field: str = "label"
    # token: [CLS] via the pooler (encoder), final [EOS] decoder state (enc-dec); mean: every real position
    pooling: str = option("token", choices=("token", "mean"))

    def check(self, kind) -> None:
        super().check(kind)
        if len(self.text_fields) != kind.n_fields:
            raise MaskbenchError(f"task.text_fields={list(self.text_fields)}: a {self.kind} task needs "
                                 f"{kind.n_fields} field{'s' if kind.n_fields > 1 else ''}")


class SentenceClassification(TaskKind):
    name = "classification"
    formats = ("tsv", "csv", "jsonl")
    metrics = ("accuracy",)
    sentence_level = True
    n_fields = 1

    schema = SentenceTask
    hf_suffix = "ForSequenceClassification"

    def pooling(self) -> str:
        return self.task.pooling

    def read(self, path, fmt, columns):
        return read_text_examples(path, fmt, list(self.task.text_fields), self.task.label_field)

    def hub_file(self, spec, cache_root):
        ref, ds = task_dataset(spec)
        fields, label = list(self.task.text_fields), self.task.label_field
        return str(text_task_file(ref, ds, fields, label, cache_root)), "jsonl", {}

    def label_names(self, train, where):
        return label_set([e.label for e in train], self.task.labels, where)

    def check_labels(self, examples, labels, where, purpose=TRAINING):
        check_labels([(e.label, _at(e, n)) for n, e in enumerate(examples, 1)], labels, str(where), purpose)

    def relabel(self, examples, mapping):
        from dataclasses import replace

        return [replace(e, label=str(mapping.get(e.label, e.label))) for e in examples]

    def encode(self, examples, labels, tok, vocab, arch, train):
        return encode_texts(examples, labels, tok, vocab, arch, self.task.max_len)

    def collate_labels(self, features, seq_len):
        import torch

        return torch.tensor([f.label for f in features])

    def loss(self, logits, batch):
        return classification_loss(logits, batch.labels)

    def units(self, logits, batch):
        right = (logits.argmax(-1) == batch.labels).long()
        return right.tolist(), [1] * len(right)

    # -- prediction ------------------------------------------------------------------------------------
    input_formats = ("tsv", "csv", "jsonl")

    def from_text(self, text, pair):
        if (pair is None) != (self.n_fields == 1):
            raise MaskbenchError("a sentence-pair model takes --text and --text-pair" if self.n_fields == 2 else
                                 "a single-sentence model takes --text alone: drop --text-pair")
        return TextExample([text] if pair is None else [text, pair], None)

    def read_inputs(self, path, fmt):
        if fmt != "txt":
            return read_text_examples(path, fmt, list(self.task.text_fields), self.task.label_field, PREDICT)
        return [TextExample(parts, None, i) for i, parts in read_plain_lines(path, self.n_fields, "\t".join(
            ["TEXT"] * self.n_fields))]

    def labelled(self, examples):
        return all(e.label is not None for e in examples)

    def predictor(self, labels, examples):
        return ClassPredictor(labels, examples)


class ClassPredictor(Predictor):
    """{"line", "label": the most probable label, "probs": {label: probability}} per input."""

    def add(self, logits, batch, features):
        probs = logits.float().softmax(-1).tolist()
        for row in probs:
            best = max(range(len(row)), key=row.__getitem__)
            self.out.append({**self.source(len(self.out)), "label": self.labels[best],
                             "probs": dict(zip(self.labels, row))})


def _at(example, n: int) -> str:
    return f"line {example.line}" if example.line is not None else f"example {n}"


@dataclass
class TextExample:
    texts: list[str]
    label: str | None          # None: unlabelled (what `maskbench predict` may be given)
    line: int | None = None    # where it was read (the file's line number); None: from the command line


def read_text_examples(path, fmt: str, text_fields: list[str], label_field: str,
                       purpose: Purpose = TRAINING) -> list[TextExample]:
    """A TSV / CSV (with a header) or JSON-lines file of examples. For predict (`purpose`), a file without the
    label field, or a row whose label is empty, '-' or '_', gives unlabelled examples."""
    p = check_task_file(path, purpose)
    lines = read_lines(p)
    rows: list[tuple[int, dict]] = []
    if fmt in ("tsv", "csv"):
        reader = csv.DictReader(lines, delimiter="\t" if fmt == "tsv" else ",", quoting=csv.QUOTE_NONE
                                if fmt == "tsv" else csv.QUOTE_MINIMAL)
        try:
            header = reader.fieldnames or []
        except csv.Error as exc:
            raise MaskbenchError(f"{p} line 1 is not {fmt.upper()} ({exc}): {purpose.fmt}") from None
        if purpose.predict and label_field not in header:
            label_field = None
        missing = [f for f in [*text_fields, label_field] if f is not None and f not in header]
        if missing:
            raise MaskbenchError(f"{p} line 1: header {header[:10]} lacks {missing}: {purpose.fields}, or "
                                 f"{purpose.fmt} if this is not {fmt.upper()}")
        if len(set(header)) != len(header):
            twice = sorted({h for h in header if header.count(h) > 1})
            raise MaskbenchError(f"{p} line 1: the header names {twice[0]!r} twice: name each column once")
        try:
            for i, row in enumerate(reader, 2):
                if None in row or any(row.get(f) is None for f in [*text_fields, label_field] if f is not None):
                    raise MaskbenchError(f"{p} line {reader.line_num}: expected {len(header)} {fmt.upper()} columns: "
                                         f"fix the line, or {purpose.fmt}")
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise MaskbenchError(f"{p} line {reader.line_num} is not {fmt.upper()} ({exc}): fix the line") from None
    elif fmt == "jsonl":
        rows = list(json_objects(p, lines, f"expected one example object per line ({purpose.fmt} if it is not "
                                           f"JSON lines)"))
    else:
        raise MaskbenchError(f"task.format={fmt} does not fit a text task: use tsv, csv or jsonl")
    out = []
    for i, row in rows:
        label = label_field if label_field is not None and (not purpose.predict or label_field in row) else None
        for f in [*text_fields, label] if label is not None else text_fields:
            if f not in row:
                raise MaskbenchError(f"{p} line {i} has no field '{f}': {purpose.fields}")
            if f == label and purpose.no_label(row[f]):
                continue
            if row[f] is None or isinstance(row[f], (dict, list)):  # would train on the text "None" or "[...]"
                raise MaskbenchError(f"{p} line {i}: '{f}' is {json.dumps(row[f])[:60]}, not a text or label: fill "
                                     f"or drop that line")
        gold = None if label is None or purpose.no_label(row[label]) else str(row[label])
        out.append(TextExample([str(row[f]) for f in text_fields], gold, i))
    if not out:
        raise MaskbenchError(f"{p} has no examples")
    return out


def encode_texts(examples, labels: list[str], tok, vocab: Vocab, arch: str, max_len: int) -> list[Feature]:
    index = {lab: i for i, lab in enumerate(labels)}
    index[None] = IGNORE  # unlabelled (predict)
    start, end = arch_of(arch).frame(vocab)
    out = []
    pieces = [tok.encode_batch([ex.texts[i] for ex in examples], add_special_tokens=False)
              for i in range(len(examples[0].texts))]
    for n, ex in enumerate(examples):
        parts = [pieces[i][n].ids for i in range(len(ex.texts))]
        budget = max_len - 1 - len(parts)  # [CLS] + one [SEP] per part
        while sum(map(len, parts)) > budget:  # longest-first truncation
            longest = max(range(len(parts)), key=lambda i: len(parts[i]))
            parts[longest] = parts[longest][:-1]
        ids, types = [start], [0]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            ids += part + [end if last else vocab.sep]
            types += [i] * (len(part) + 1)
        out.append(Feature(ids, [min(t, 1) for t in types], index[ex.label]))
    return out


def text_task_file(ref, ds, fields: list[str], label: str, cache_root: Path) -> Path:
    """Sentence (pair) classification rows as JSON lines; class ids become names. A row whose ClassLabel is -1
    is unlabelled by the datasets convention (SNLI's pairs without a gold label) and is dropped; elsewhere -1
    is a class like any other. A missing text or label is refused, naming the row."""
    need_columns(ds, ref, fields + [label], "task.text_fields / task.label_field")
    feature = (ds.features or {}).get(label)
    class_label = bool(getattr(feature, "names", None))

    def rows():
        for i, row in enumerate(ds):
            if class_label and row[label] == -1:
                continue
            missing = [f for f in [*fields, label] if row[f] is None]
            if missing:
                raise MaskbenchError(f"{ref.spec}: row {i} has no {missing[0]} (null): remove or fill that row")
            yield json.dumps({**{f: row[f] for f in fields}, label: label_name(feature, row[label])}) + "\n"
    target = cache_target(cache_root, ref, ds, {"fields": fields, "label": label, "unlabelled": "classlabel-only"},
                     ".jsonl")
    return target if target.exists() else write_cached(target, rows())
