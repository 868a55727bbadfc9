"""Schemas of the `task` group: the fields every fine-tuning task has, and one subclass per task kind
(each kind in maskbench/tasks/ names its schema as `TaskKind.schema`). Formats and metrics are the
kind's own (`TaskKind.formats`, `TaskKind.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from maskbench.errors import MaskbenchError
from maskbench.schema.fields import option


@dataclass
class TaskConfig:
    name: str = "custom"
    kind: str = "classification"
    format: str = "tsv"
    train_file: str = "???"
    eval_file: str = "???"
    max_len: int = option(128, low=8)
    metric: str = "accuracy"
    dropout: float = option(0.1, prob=True)
    max_eval_examples: Optional[int] = option(None, low=1, hint="or null for all")
    freeze: bool = False
    probe_layer: Optional[int] = option(None, low=0, hint="0 = the embeddings; null = the final layer")
    train_size: Optional[int] = option(None, low=1, hint="or null for all")
    extra_eval: List[Any] = option(factory=list)

    def check(self, kind) -> None:
        """Checks that need the task kind (`maskbench.tasks.base.TaskKind`)."""
        if self.format not in kind.formats:
            raise MaskbenchError(f"task.format={self.format} does not fit a {self.kind} task: "
                                 f"choose {', '.join(kind.formats)}")
        if self.metric not in kind.metrics:
            raise MaskbenchError(f"task.metric={self.metric} is not reported for a {self.kind} task: "
                                 f"choose {', '.join(kind.metrics)}")
        for item in self.extra_eval or []:  # checked before any work, not when the data loads after pretraining
            if not (isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("file"), str))):
                raise MaskbenchError(f"task.extra_eval item {item} has no file: write {{name: NAME, file: PATH}} or "
                                     f"a path")


@dataclass
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


@dataclass
class TaggingTask(TaskConfig):
    kind: str = "tagging"
    format: str = "conllu"
    metric: str = "token_accuracy"
    labels: Optional[List[Any]] = None      # null = the sorted tags of the training file
    word_column: int = option(1, low=0)
    tag_column: int = option(3, low=0, hint="0-based: CoNLL-U column 4 = UPOS")
    words_field: str = "tokens"   # hf: datasets: the column of words (a list per row)
    tags_field: str = "tags"      # ... and of their tags


@dataclass
class QATask(TaskConfig):
    kind: str = "qa"
    format: str = "squad"
    metric: str = "f1"
    max_len: int = option(256, low=8)
    doc_stride: int = option(128, low=1)
    max_query_len: int = option(64, low=1)
    max_answer_len: int = option(30, low=1)

    def check(self, kind) -> None:
        super().check(kind)
        if self.doc_stride >= self.max_len:
            raise MaskbenchError(f"task.doc_stride={self.doc_stride} must be below task.max_len={self.max_len}")
