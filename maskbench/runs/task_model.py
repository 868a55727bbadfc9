"""A fine-tuned task model on disk, and rebuilt from it alone.

Every checkpoint of a fine-tuning holds the whole task model (backbone, head) and `task.json`: the task's
resolved config, its kind, the label names, and the backbone's architecture and shape. From that one
folder `maskbench predict`, `maskbench export` and `init=` of a new fine-tuning (which takes the backbone)
rebuild what they need, without the pretraining run or the task's files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from maskbench.config import as_dict
from maskbench.errors import MaskbenchError, safe_reason
from maskbench.tasks import TaskKind, task_kind

RECORD_VERSION = 1


def task_record(kind: TaskKind, labels: list[str], backbone) -> str:
    """task.json of a fine-tuning checkpoint: the task `kind` holds (`backbone`: its models.source.ModelSource)."""
    return json.dumps({"version": RECORD_VERSION, "kind": kind.name, "labels": list(labels), "arch": backbone.arch,
                       "model": backbone.model_dict(), "task": as_dict(kind.task),
                       "objective": backbone.objective, "init_source": backbone.source}, indent=1)


def build_task_model(model_cfg, arch: str, vocab_size: int, kind: TaskKind, labels: list[str], seed: int = 0,
                     load_backbone=None):
    """The task model of a fine-tuning: the backbone (weights from `load_backbone`, else random), then the
    head, as the task `kind` holds says (dropout, pooling, freeze, probe layer). Seeded so that pretrained and
    scratch twins get the same head and dropout."""
    task = kind.task
    import torch

    from maskbench.models import build_model
    from maskbench.models.heads import TaskModel

    torch.manual_seed(seed)
    net = build_model({**as_dict(model_cfg), "dropout": task.dropout}, arch, vocab_size)
    if load_backbone is not None:
        load_backbone(net)
    torch.manual_seed(seed + 1)
    return TaskModel(net, kind.sentence_level, kind.head_size(labels), task.dropout, kind.pooling(),
                     freeze=task.freeze, probe_layer=task.probe_layer)


@dataclass
class SavedTaskModel:
    model: object           # models.heads.TaskModel, in eval mode
    tok: object
    vocab: object
    task: object            # the task's config: its kind's schema object
    kind: TaskKind
    labels: list[str]
    arch: str
    model_cfg: object       # the backbone's shape as task.json holds it (DictConfig)
    checkpoint: Path        # the run's checkpoint folder it was read from (through a held copy)


def task_checkpoint(path, step: int | None = None, what: str = "predict") -> tuple[Path, Path]:
    """(the checkpoint folder of a fine-tuning, the held copy to read it from): the given one, or a run's final
    (else newest) one, or its step-N with `step`. A run still training may prune the one chosen meanwhile; the
    copy stays whole (runs/checkpoint.py hold_checkpoint)."""
    from maskbench.runs.checkpoint import damage, hold_checkpoint, latest_checkpoint, step_folder
    from maskbench.runs.layout import TASK_RECORD

    path = Path(str(path)).expanduser()
    if not path.exists():
        raise MaskbenchError(f"{what}: {path} does not exist: give a fine-tuning run folder (maskbench finetune ...)")

    def choose():
        if step is not None:
            return step_folder(path, step)
        return path if (path / "model.safetensors").exists() else latest_checkpoint(path)

    chosen = hold_checkpoint(choose, what)
    if chosen is None:
        raise MaskbenchError(f"{path} has no checkpoint: give a fine-tuning run or one of its checkpoints/*/ folders")
    ckpt, held = chosen
    if not (held / TASK_RECORD).exists():
        if _fine_tuned(held):
            raise MaskbenchError(f"{ckpt} was fine-tuned before maskbench kept the task head (it holds the backbone "
                                 f"only): fine-tune it again to {what} with it")
        raise MaskbenchError(f"{ckpt} is a pretraining checkpoint, which has no task head: {what} needs a "
                             f"fine-tuning run (maskbench finetune init={path} task=...)")
    why = damage(held)
    if why:
        raise MaskbenchError(f"{ckpt} is damaged ({why}): use another of the run's checkpoints (--step)")
    return ckpt, held


def _fine_tuned(ckpt: Path) -> bool:
    """Whether a checkpoint's config.yaml has a task (unreadable: no)."""
    try:
        cfg = OmegaConf.load(ckpt / "config.yaml")
    except Exception:  # missing, or not YAML: not a fine-tuning we can name
        return False
    return hasattr(cfg, "keys") and "task" in cfg


def read_record(ckpt: Path, shown: Path | None = None) -> dict:
    """task.json of checkpoint folder `ckpt` (named `shown` in a refusal: the folder the user's run holds)."""
    from maskbench.runs.layout import TASK_RECORD

    try:
        record = json.loads((Path(ckpt) / TASK_RECORD).read_text())
        task_kind(record["kind"])
        if not isinstance(record["labels"], list) or not isinstance(record["model"], dict) or \
                not isinstance(record["task"], dict) or not isinstance(record["arch"], str):
            raise TypeError("labels, model, task or arch")
        return record
    except (OSError, ValueError, KeyError, TypeError, MaskbenchError) as exc:
        raise MaskbenchError(f"{shown or ckpt}/{TASK_RECORD} is unreadable ({safe_reason(exc, 100)}): use another of "
                             f"the run's checkpoints") from None


def load_task_model(path, step: int | None = None, what: str = "predict") -> SavedTaskModel:
    """The whole fine-tuned model of a run or checkpoint folder, with its tokenizer and label names."""
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.runs.checkpoint import load_weights
    from maskbench.runs.layout import TASK_RECORD
    from maskbench.runs.source import check_model
    from maskbench.config.typed import typed_group

    shown, ckpt = task_checkpoint(path, step, what)
    record = read_record(ckpt, shown)
    task = typed_group("task", record["task"])
    kind = task_kind(record["kind"])(task)
    model_cfg = OmegaConf.create(record["model"])
    check_model(model_cfg, f"{shown}/{TASK_RECORD}", "it was edited or damaged since training: restore it, or use "
                                                     "another of the run's checkpoints (--step)")
    tok = load_tokenizer(ckpt / "tokenizer.json")
    vocab = Vocab.from_tokenizer(tok)
    model = build_task_model(model_cfg, record["arch"], vocab.size, kind, record["labels"])
    load_weights(model, ckpt, shown=shown)
    model.eval()
    return SavedTaskModel(model, tok, vocab, task, kind, list(record["labels"]), record["arch"], model_cfg, shown)
