"""Schema of the `task` group: the fields every fine-tuning task has. Each kind's own fields are a subclass
in its module (maskbench/tasks/<kind>.py, named by `TaskKind.schema`); formats and metrics are the kind's
own too (`TaskKind.formats`, `TaskKind.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option


@dataclass(frozen=True)
class TaskConfig:
    name: str = "custom"
    kind: str = "classification"
    format: Optional[str] = None   # null: the kind's first (TaskKind.formats)
    train_file: str = "???"
    eval_file: str = "???"
    max_len: int = option(128, low=8)
    metric: Optional[str] = None   # null: the kind's first (TaskKind.metrics)
    dropout: float = option(0.1, prob=True)
    max_eval_examples: Optional[int] = option(None, low=1, hint="or null for all")
    freeze: bool = False
    probe_layer: Optional[int] = option(None, low=0, hint="0 = the embeddings; null = the final layer")
    train_size: Optional[int] = option(None, low=1, hint="or null for all")
    extra_eval: List[Any] = option(factory=list)

    def check(self, kind) -> None:
        """Checks that need the task kind: its class (`maskbench.tasks.base.TaskKind`), read before any kind holds
        this config."""
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
