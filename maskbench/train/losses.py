"""Pretraining loss, outside the model: cross-entropy only at labelled positions (sparse prediction),
returned as (sum, count) pairs so the loop can normalise by global counts."""

from __future__ import annotations

import torch.nn.functional as F

from maskbench.batch import IGNORE


def pretrain_terms(model, batch) -> dict:
    """{'mlm': (loss_sum, n_labels, n_correct), 'nsp': (...)} for one batch. Accuracy (an extra
    vocabulary-sized argmax) is computed in evaluation only; training reports -1."""
    if model.arch == "encoder":
        hidden = model(batch)
        enc_hidden = hidden
    else:
        enc_hidden = model.encode(batch)
        hidden = model(batch, memory=enc_hidden)
    labels = batch.labels
    sel = labels != IGNORE
    target = labels[sel]
    # The vocabulary projection only where there is a label (~1/3 of a small encoder's FLOPs saved),
    # fused with the cross-entropy so the [N, V] logits never sit in memory.
    loss, correct = model.lm_head.loss_sum(hidden[sel], target, with_accuracy=not model.training)
    terms = {"mlm": (loss, target.new_tensor(target.numel()),
                     correct if correct is not None else target.new_tensor(-1))}
    if batch.nsp_labels is not None:
        nsp_logits = model.nsp_head(model.pooled(enc_hidden)).float()
        terms["nsp"] = (F.cross_entropy(nsp_logits, batch.nsp_labels, reduction="sum"),
                        batch.nsp_labels.new_tensor(batch.nsp_labels.numel()),
                        (nsp_logits.argmax(-1) == batch.nsp_labels).sum())
    return terms
