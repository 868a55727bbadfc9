"""Single-sentence classification (SST-2, review sentiment): a pooled state -> a label."""

from __future__ import annotations

from maskbench.errors import MaskbenchError
from maskbench.schema.task import SentenceTask
from maskbench.tasks.base import Predictor, TaskKind, classification_loss


class SentenceClassification(TaskKind):
    name = "classification"
    formats = ("tsv", "csv", "jsonl")
    metrics = ("accuracy",)
    sentence_level = True
    n_fields = 1

    schema = SentenceTask

    def pooling(self, task) -> str:
        return task.pooling

    def read(self, task, path, fmt, columns):
        from maskbench.data.tasks import read_text_examples

        return read_text_examples(path, fmt, list(task.text_fields), task.label_field)

    def hub_file(self, spec, task, cache_root):
        from maskbench.data.hub import task_dataset, text_task_file

        ref, ds = task_dataset(spec)
        return str(text_task_file(ref, ds, list(task.text_fields), task.label_field, cache_root)), "jsonl", {}

    def label_names(self, train, task, where):
        from maskbench.data.tasks import label_set

        return label_set([e.label for e in train], task.labels, where)

    def check_labels(self, examples, labels, where):
        from maskbench.data.tasks import check_labels

        check_labels([e.label for e in examples], labels, str(where))

    def relabel(self, examples, mapping):
        from dataclasses import replace

        return [replace(e, label=str(mapping.get(e.label, e.label))) for e in examples]

    def encode(self, examples, labels, tok, vocab, arch, task, train):
        from maskbench.data.task_features import encode_texts

        return encode_texts(examples, labels, tok, vocab, arch, task.max_len)

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
        from maskbench.data.tasks import TextExample

        if (pair is None) != (self.n_fields == 1):
            raise MaskbenchError("a sentence-pair model takes --text and --text-pair" if self.n_fields == 2 else
                                 "a single-sentence model takes --text alone: drop --text-pair")
        return TextExample([text] if pair is None else [text, pair], None)

    def read_inputs(self, task, path, fmt):
        from maskbench.data.tasks import TextExample, read_plain_lines, read_text_examples

        if fmt != "txt":
            return read_text_examples(path, fmt, list(task.text_fields), task.label_field, labels_optional=True)
        return [TextExample(parts, None) for parts in read_plain_lines(path, self.n_fields, "\t".join(
            ["TEXT"] * self.n_fields))]

    def labelled(self, examples):
        return all(e.label is not None for e in examples)

    def predictor(self, labels, examples, task):
        return ClassPredictor(labels, examples, task)


class ClassPredictor(Predictor):
    """{"label": the most probable label, "probs": {label: probability}} per input."""

    def add(self, logits, batch, features):
        probs = logits.float().softmax(-1).tolist()
        for row in probs:
            best = max(range(len(row)), key=row.__getitem__)
            self.out.append({"label": self.labels[best], "probs": dict(zip(self.labels, row))})
