"""Score a model on a task (beside the training loop it serves, with its autocast)'s evaluation features, for any kind: loss, the kind's metrics, and per-example
units of the main metric (for intervals)."""

from __future__ import annotations

import torch

from maskbench.batch import Term
from maskbench.tasks.base import TaskKind
from maskbench.tasks.batching import collate
from maskbench.train.loop import autocast


def task_terms(kind: TaskKind):
    """The shared loop's loss terms for fine-tuning."""
    return lambda model, batch: {"task": Term(*kind.loss(model(batch).float(), batch))}


@torch.no_grad()
def evaluate_task(model, features, kind: TaskKind, examples, arch: str, pad: int, device: str,
                  batch_size: int = 64) -> tuple[dict, dict]:
    """(metrics, units): {"loss", the kind's metrics}, and {"metric", "num", "den"} per evaluation example
    (task.metric of the task `kind` holds)."""
    model.eval()
    scorer = kind.scorer(examples)
    loss_sum = count = 0.0
    for k in range(0, len(features), batch_size):
        part = features[k:k + batch_size]
        batch = collate(part, kind, arch, pad).to(device)
        with autocast(device, "auto"):
            logits = model(batch).float()
        s, n, _ = kind.loss(logits, batch)
        loss_sum, count = loss_sum + float(s), count + float(n)
        scorer.add(logits, batch, part)
    metrics, units = scorer.finish()
    return {"loss": round(loss_sum / max(count, 1.0), 5), **metrics}, units


def evaluate_all(model, data, arch: str, pad: int, device: str) -> tuple[dict, dict]:
    """The task's evaluation set and every task.extra_eval set: one flat metrics dict (extra sets' keys
    prefixed `NAME_`, e.g. `zh_token_accuracy`) and the units of each ({..., "extra": {NAME: units}})."""
    metrics, units = evaluate_task(model, data.eval, data.kind, data.eval_examples, arch, pad, device)
    if data.extra:
        units["extra"] = {}
    for extra in data.extra:
        m, u = evaluate_task(model, extra.features, data.kind, extra.examples, arch, pad, device)
        metrics.update({f"{extra.name}_{k}": v for k, v in m.items()})
        units["extra"][extra.name] = u
    return metrics, units
