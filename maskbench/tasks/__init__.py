"""Fine-tuning task kinds behind a registry: `task.kind` names one (maskbench/tasks/base.py has the
interface). Adding a kind is one module here and one line below. The registry holds the kinds' classes (what
the config checks read); `kind_for(task)` builds the kind of one task from its typed config."""

from __future__ import annotations

from maskbench.config.schema.task import TaskConfig
from maskbench.tasks.base import TaskKind, unknown_kind
from maskbench.tasks.pair import PairClassification
from maskbench.tasks.qa import ExtractiveQA
from maskbench.tasks.sentence import SentenceClassification
from maskbench.tasks.tagging import Tagging

KINDS: dict[str, type[TaskKind]] = {k.name: k for k in (SentenceClassification, PairClassification, Tagging,
                                                        ExtractiveQA)}


def task_kind(name: str) -> type[TaskKind]:
    if name not in KINDS:
        raise unknown_kind(name, KINDS)
    return KINDS[name]


def kind_for(task: TaskConfig) -> TaskKind:
    """The kind of `task` (a typed task config, `task.kind` naming it), holding that config."""
    return task_kind(task.kind)(task)
