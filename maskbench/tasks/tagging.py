"""Token tagging (POS): each word's tag on its first sub-word, a linear head over every position;
metric: token accuracy, so a sentence's units are (correct tags, tagged words)."""

from __future__ import annotations

from maskbench.batch import IGNORE
from maskbench.errors import MaskbenchError
from maskbench.schema.task import TaggingTask
from maskbench.tasks.base import Predictor, TaskKind, classification_loss


class Tagging(TaskKind):
    name = "tagging"
    formats = ("conllu", "conll")
    metrics = ("token_accuracy",)
    schema = TaggingTask

    def columns(self, task) -> dict:
        return {"word_column": task.word_column, "tag_column": task.tag_column}

    def read(self, task, path, fmt, columns):
        from maskbench.data.tasks import read_tagged

        return read_tagged(path, fmt, columns["word_column"], columns["tag_column"])

    def hub_file(self, spec, task, cache_root):
        from maskbench.data.hub import tagged_task_file, task_dataset

        ref, ds = task_dataset(spec)
        words, tags = task.words_field, task.tags_field
        return str(tagged_task_file(ref, ds, words, tags, cache_root)), "conll", {"word_column": 0, "tag_column": 1}

    def label_names(self, train, task, where):
        from maskbench.data.tasks import label_set

        return label_set([t for s in train for t in s.tags], task.labels, where)

    def check_labels(self, examples, labels, where):
        from maskbench.data.tasks import check_labels

        check_labels([t for s in examples for t in s.tags], labels, str(where))

    def relabel(self, examples, mapping):
        from dataclasses import replace

        return [replace(s, tags=[str(mapping.get(t, t)) for t in s.tags]) for s in examples]

    def encode(self, examples, labels, tok, vocab, arch, task, train):
        from maskbench.data.task_features import encode_tagged

        return encode_tagged(examples, labels, tok, vocab, arch, task.max_len)

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
        from maskbench.data.tasks import TaggedSentence

        if pair is not None:
            raise MaskbenchError("a tagging model takes --text alone (words separated by spaces): drop --text-pair")
        if not text.split():
            raise MaskbenchError("--text has no words to tag")
        return TaggedSentence(text.split(), None)

    def read_inputs(self, task, path, fmt):
        from maskbench.data.tasks import TaggedSentence, read_plain_lines, read_tagged

        if fmt == "txt":
            return [TaggedSentence(parts[0].split(), None) for parts in read_plain_lines(path, 1, "words")]
        if fmt == task.format:  # the columns the model was trained with
            word, tag = task.word_column, task.tag_column
        else:  # CoNLL-U's FORM and UPOS, or a two-column "word tag" CoNLL file
            word, tag = (1, 3) if fmt == "conllu" else (0, 1)
        return read_tagged(path, fmt, word, tag, tags_optional=True)

    def labelled(self, examples):
        return all(s.tags is not None for s in examples)

    def predictor(self, labels, examples, task):
        return TagPredictor(labels, examples, task)


class TagPredictor(Predictor):
    """{"words", "tags", "scores"} per sentence: each word's tag read at its first sub-word; a word cut off by
    task.max_len gets null."""

    def add(self, logits, batch, features):
        probs = logits.float().softmax(-1)
        best_p, best = probs.max(-1)
        for r, f in enumerate(features):
            words = self.examples[len(self.out)].words
            tags = [None if p is None else self.labels[int(best[r, p])] for p in f.word_starts]
            scores = [None if p is None else float(best_p[r, p]) for p in f.word_starts]
            self.out.append({"words": words, "tags": tags, "scores": scores})
