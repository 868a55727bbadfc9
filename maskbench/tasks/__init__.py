"""Fine-tuning task kinds behind a registry: `task.kind` names one (maskbench/tasks/base.py has the
interface). Adding a kind is one module here and one line below."""

from __future__ import annotations

from maskbench.tasks.base import TaskKind, unknown_kind
from maskbench.tasks.pair import PairClassification
from maskbench.tasks.qa import ExtractiveQA
from maskbench.tasks.sentence import SentenceClassification
from maskbench.tasks.tagging import Tagging

KINDS: dict[str, TaskKind] = {k.name: k for k in (SentenceClassification(), PairClassification(), Tagging(),
                                                  ExtractiveQA())}


def task_kind(name: str) -> TaskKind:
    if name not in KINDS:
        raise unknown_kind(name, KINDS)
    return KINDS[name]
