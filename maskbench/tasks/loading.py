"""A task's files -> encoded training and evaluation features, for any kind: `builtin:` and `hf:` files
resolved into the cache, examples read and checked against one label set, features encoded."""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.tasks import TaskKind, task_kind


@dataclass
class TaskData:
    kind: TaskKind
    train: list            # features
    eval: list             # features
    labels: list[str]
    eval_examples: list    # what the eval features came from (QA scores spans against them)


def task_file(spec, task, kind: TaskKind, cache_dir=None) -> tuple[str, str, dict]:
    """(file, reader format, reader options) of one task file."""
    from maskbench.data.builtin import resolve_builtin
    from maskbench.data.hub import is_hub

    if is_hub(spec):
        from maskbench.data.corpus import cache_root

        return kind.hub_file(str(spec), task, cache_root(cache_dir))
    return str(resolve_builtin(spec, cache_dir)), task.format, kind.columns(task)


def load_task(task, tok, vocab, arch: str, cache_dir=None) -> TaskData:
    kind = task_kind(task.kind)
    train_file, train_fmt, train_cols = task_file(task.train_file, task, kind, cache_dir)
    eval_file, eval_fmt, eval_cols = task_file(task.eval_file, task, kind, cache_dir)
    train = kind.read(task, train_file, train_fmt, {**kind.columns(task), **train_cols})
    dev = kind.read(task, eval_file, eval_fmt, {**kind.columns(task), **eval_cols})[:task.get("max_eval_examples")]
    labels = kind.label_names(train, task, train_file)
    kind.check_labels(train, labels, train_file)
    kind.check_labels(dev, labels, eval_file)
    return TaskData(kind, kind.encode(train, labels, tok, vocab, arch, task, train=True),
                    kind.encode(dev, labels, tok, vocab, arch, task, train=False), labels, dev)
