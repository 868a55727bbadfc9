"""Token tagging (POS): each word's tag on its first sub-word, a linear head over every position;
metric: token accuracy, so a sentence's units are (correct tags, tagged words)."""

from __future__ import annotations

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
from maskbench.tasks.common import (PREDICT, TRAINING, Feature, Purpose, check_labels, check_task_file, label_set,
                                    read_lines, read_plain_lines)

if TYPE_CHECKING:
    from maskbench.data.tokenizer import Vocab


@dataclass(frozen=True)
class TaggingTask(TaskConfig):
    kind: str = "tagging"
    labels: Optional[List[Any]] = None      # null = the sorted tags of the training file
    word_column: int = option(1, low=0)
    tag_column: int = option(3, low=0, hint="0-based: CoNLL-U column 4 = UPOS")
    words_field: str = "tokens"   # hf: datasets: the column of words (a list per row)
    tags_field: str = "tags"      # ... and of their tags


@dataclass
class TaggedFeature(Feature):
    """A sentence's feature (label: a tag id per position, IGNORE off the words' first sub-words), and where each
    word's tag is read back (predict)."""
    word_starts: list[int | None]  # each word's first sub-word (None: cut off by max_len, or no sub-words)


class Tagging(TaskKind):
    name = "tagging"
    formats = ("conllu", "conll")
    metrics = ("token_accuracy",)
    schema = TaggingTask
    hf_suffix = "ForTokenClassification"

    def columns(self) -> dict:
        return {"word_column": self.task.word_column, "tag_column": self.task.tag_column}

    def read(self, path, fmt, columns):
        return read_tagged(path, fmt, columns["word_column"], columns["tag_column"])

    def hub_file(self, spec, cache_root):
        ref, ds = task_dataset(spec)
        words, tags = self.task.words_field, self.task.tags_field
        return str(tagged_task_file(ref, ds, words, tags, cache_root)), "conll", {"word_column": 0, "tag_column": 1}

    def label_names(self, train, where):
        return label_set([t for s in train for t in s.tags], self.task.labels, where)

    def check_labels(self, examples, labels, where, purpose=TRAINING):
        at = lambda s, n: f"sentence at line {s.line}" if s.line is not None else f"sentence {n}"  # noqa: E731
        check_labels([(t, at(s, n)) for n, s in enumerate(examples, 1) for t in s.tags or []], labels, str(where),
                     purpose)

    def relabel(self, examples, mapping):
        from dataclasses import replace

        return [replace(s, tags=[str(mapping.get(t, t)) for t in s.tags]) for s in examples]

    def encode(self, examples, labels, tok, vocab, arch, train):
        return encode_tagged(examples, labels, tok, vocab, arch, self.task.max_len)

    def collate_labels(self, features, seq_len):
        import torch

        labels = torch.full((len(features), seq_len), IGNORE, dtype=torch.long)
        for i, f in enumerate(features):
            labels[i, :len(f.label)] = torch.tensor(f.label)
        return labels

    def loss(self, logits, batch):
        sel = batch.labels != IGNORE
        return classification_loss(logits[sel], batch.labels[sel])

    def units(self, logits, batch):
        sel = batch.labels != IGNORE
        right = ((logits.argmax(-1) == batch.labels) & sel).sum(1)
        return right.tolist(), sel.sum(1).tolist()

    # -- prediction ------------------------------------------------------------------------------------
    input_formats = ("conllu", "conll")

    def from_text(self, text, pair):
        if pair is not None:
            raise MaskbenchError("a tagging model takes --text alone (words separated by spaces): drop --text-pair")
        if not text.split():
            raise MaskbenchError("--text has no words to tag")
        return TaggedSentence(text.split(), None)

    def read_inputs(self, path, fmt):
        if fmt == "txt":
            return [TaggedSentence(parts[0].split(), None, i) for i, parts in read_plain_lines(path, 1, "words")
                    if parts[0].split()]
        if fmt == self.task.format:  # the columns the model was trained with
            word, tag = self.task.word_column, self.task.tag_column
        else:  # CoNLL-U's FORM and UPOS, or a two-column "word tag" CoNLL file
            word, tag = (1, 3) if fmt == "conllu" else (0, 1)
        return read_tagged(path, fmt, word, tag, PREDICT)

    def labelled(self, examples):
        return all(s.tags is not None for s in examples)

    def predictor(self, labels, examples):
        return TagPredictor(labels, examples)


class TagPredictor(Predictor):
    """{"input", "line", "words", "tags", "scores"} per sentence: each word's tag read at its first sub-word; a word cut off by
    task.max_len gets null."""

    def add(self, logits, batch, features):
        probs = logits.float().softmax(-1)
        best_p, best = probs.max(-1)
        for r, f in enumerate(features):
            words = self.examples[len(self.out)].words
            tags = [None if p is None else self.labels[int(best[r, p])] for p in f.word_starts]
            scores = [None if p is None else float(best_p[r, p]) for p in f.word_starts]
            self.out.append({**self.source(len(self.out)), "words": words, "tags": tags, "scores": scores})


@dataclass
class TaggedSentence:
    words: list[str]
    tags: list[str] | None     # None: untagged
    line: int | None = None    # the file line of its first word; None: from the command line


def read_tagged(path, fmt: str, word_column: int, tag_column: int, purpose: Purpose = TRAINING) -> list[TaggedSentence]:
    """CoNLL-U (fmt='conllu', tab-separated, 10 columns) or whitespace-column CoNLL (fmt='conll'). For predict
    (`purpose`), lines with the word column only, or a tag of '_' or '-', give untagged sentences."""
    p = check_task_file(path, purpose)
    sentences, words, tags, first = [], [], [], None

    def close():
        sentences.append(TaggedSentence(words, None if None in tags else tags, first))

    for i, line in enumerate(read_lines(p), 1):
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
                                     f"{len(cols)}): {purpose.fmt} if it is another format")
            if "-" in cols[0] or "." in cols[0]:
                continue  # multi-word token ranges and empty nodes carry no tag of their own
        if len(cols) <= word_column or (len(cols) <= tag_column and not purpose.predict):
            raise MaskbenchError(f"{p} line {i} has {len(cols)} columns, fewer than the word (column {word_column}) "
                                 f"and tag (column {tag_column}) need: {purpose.columns}")
        if not words:
            first = i
        words.append(cols[word_column])
        tag = cols[tag_column] if len(cols) > tag_column else None
        tags.append(None if purpose.no_label(tag) else tag)
    if words:
        close()
    if not sentences:
        raise MaskbenchError(f"{p} has no sentences")
    return sentences


def encode_tagged(sentences, tags: list[str], tok, vocab: Vocab, arch: str, max_len: int) -> list[TaggedFeature]:
    index = {t: i for i, t in enumerate(tags)}
    start, end = arch_of(arch).frame(vocab)
    encs = tok.encode_batch([s.words for s in sentences], is_pretokenized=True, add_special_tokens=False)
    out = []
    for s, enc in zip(sentences, encs):
        ids, labels, starts, prev = [start], [IGNORE], [None] * len(s.words), None
        for tid, wid in zip(enc.ids, enc.word_ids):
            if len(ids) >= max_len - 1:
                break
            first = wid is not None and wid != prev
            if first:
                starts[wid] = len(ids)
            ids.append(tid)
            labels.append(index[s.tags[wid]] if first and s.tags is not None else IGNORE)
            prev = wid
        ids.append(end)
        labels.append(IGNORE)
        out.append(TaggedFeature(ids, [0] * len(ids), labels, word_starts=starts))
    return out


def tagged_task_file(ref, ds, words: str, tags: str, cache_root: Path) -> Path:
    """Tagged sentences as two-column CoNLL (word, tag name)."""
    need_columns(ds, ref, [words, tags], "task.words_field / task.tags_field")
    inner = getattr((ds.features or {}).get(tags), "feature", None)

    def sentences():
        for i, row in enumerate(ds):
            if row[words] and len(row[words]) != len(row[tags] or []):
                raise MaskbenchError(f"{ref.spec}: row {i} has {len(row[words])} words and {len(row[tags] or [])} "
                                     f"tags: every word needs one tag; fix or drop that row")
            if row[words]:
                yield "".join(f"{w}\t{label_name(inner, t)}\n" for w, t in zip(row[words], row[tags])) + "\n"
    target = cache_target(cache_root, ref, ds, {"words": words, "tags": tags}, ".conll")
    return target if target.exists() else write_cached(target, sentences())
