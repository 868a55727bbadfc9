"""A task's files -> encoded training and evaluation features, for any kind: `builtin:` and `hf:` files
resolved into the cache, examples read and checked against one label set, features encoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import schema_node
from maskbench.tasks import TaskKind, kind_for


@dataclass
class EvalSet:
    name: str
    features: list
    examples: list         # what the features came from (QA scores spans against them)


@dataclass
class TaskData:
    kind: TaskKind
    train: list            # features
    eval: list             # features
    labels: list[str]
    eval_examples: list
    extra: list = field(default_factory=list)  # EvalSets of task.extra_eval


def task_file(spec, kind: TaskKind, cache_dir=None) -> tuple[str, str, dict]:
    """(file, reader format, reader options) of one task file: the options of the task `kind` holds, or those of
    the file an hf: dataset was converted into."""
    from maskbench.data.builtin import resolve_builtin
    from maskbench.data.hub import is_hub

    if is_hub(spec):
        from maskbench.data.cache_root import cache_root

        return kind.hub_file(str(spec), cache_root(cache_dir))
    return str(resolve_builtin(spec, cache_dir)), kind.task.format, kind.columns()


def read_task_file(spec, kind: TaskKind, key: str, cache_dir=None) -> list:
    """The examples of one task file, errors naming the file as the user wrote it (`hf:glue:sst2@train`, not the
    cache file it was converted into) and the option that sets it (`key`)."""
    path, fmt, cols = task_file(spec, kind, cache_dir)
    if not Path(path).is_file():
        raise MaskbenchError(f"{key}: {spec} does not exist: fix {key} (the shared data sets are found through "
                             f"MASKBENCH_DATA, the folder holding sst2/, ud_ewt/, snli/, squad/)")
    try:
        return kind.read(path, fmt, cols)
    except MaskbenchError as exc:
        if str(path) == str(spec):
            raise
        raise MaskbenchError(str(exc).replace(str(path), str(spec))) from None


def load_task(task, tok, vocab, arch: str, cache_dir=None) -> TaskData:
    kind = kind_for(task)
    train = read_task_file(task.train_file, kind, "task.train_file", cache_dir)
    dev = read_task_file(task.eval_file, kind, "task.eval_file", cache_dir)[:task.max_eval_examples]
    labels = kind.label_names(train, task.train_file)
    kind.check_labels(train, labels, task.train_file)
    kind.check_labels(dev, labels, task.eval_file)
    extra = [_extra_eval(item, kind, labels, tok, vocab, arch, cache_dir) for item in task.extra_eval or []]
    names = [e.name for e in extra]
    if len(set(names)) != len(names):
        raise MaskbenchError(f"task.extra_eval names {names} repeat: give each a name ({{name: ..., file: ...}})")
    return TaskData(kind, kind.encode(train, labels, tok, vocab, arch, train=True),
                    kind.encode(dev, labels, tok, vocab, arch, train=False), labels, dev, extra)


def _extra_eval(item, kind: TaskKind, labels, tok, vocab, arch, cache_dir) -> EvalSet:
    """One more evaluation set: a file with the task's reader options, or a mapping overriding them (read and
    encoded by the kind with that view of its config; scored as the task's own evaluation set)."""
    from omegaconf import OmegaConf

    spec = dict(item) if isinstance(item, dict) else {"file": str(item)}
    if "file" not in spec:
        raise MaskbenchError(f"task.extra_eval item {spec} has no file: write {{name: NAME, file: PATH}} or a path")
    name = str(spec.pop("name", None) or Path(str(spec["file"]).split(":")[-1]).stem)
    mapping = spec.pop("label_map", None) or {}
    try:
        view = OmegaConf.to_object(OmegaConf.merge(schema_node(kind.task),
                                                   {k: v for k, v in spec.items() if k != "file"}))
    except Exception as exc:  # a key the task does not have
        raise MaskbenchError(f"task.extra_eval item {name}: {str(exc).splitlines()[0]} (use the task's own keys)") from None
    reader = kind.with_task(view)
    examples = kind.relabel(read_task_file(spec["file"], reader, f"task.extra_eval ({name})", cache_dir), mapping)
    examples = examples[:view.max_eval_examples]
    kind.check_labels(examples, labels, spec["file"])
    return EvalSet(name, reader.encode(examples, labels, tok, vocab, arch, train=False), examples)
