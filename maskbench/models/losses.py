"""The standard pretraining loss, outside the model: cross-entropy only at labelled positions (sparse
prediction), returned as named terms (batch.Term: sum, count) so the loop can normalise by global counts. It is
the default of an objective's `loss_terms` (corruption/base.py: Noise); an objective with its own model or loss
(ELECTRA, GPT-BERT) gives its own."""

from __future__ import annotations

import torch.nn.functional as F

from maskbench.batch import IGNORE, Term
from maskbench.models.rows import Rows
from maskbench.arch import arch_of


def pretrain_terms(model, batch) -> dict:
    """{'mlm': Term, 'nsp': Term (with NSP)} for one batch. Accuracy (an extra vocabulary-sized argmax) is
    computed in evaluation only; training reports -1."""
    labels = batch.labels
    sel = labels != IGNORE
    target = labels[sel]
    pooled_state = None
    if arch_of(model.arch).encoder_only:
        # The last block runs only where a state is read: the labelled positions (+ position 0 for NSP).
        need = sel.clone()
        if batch.nsp_labels is not None:
            need[:, 0] = True
        rows = Rows.where(need)
        states = model(batch, at=rows)
        labelled = states[sel[need]]
        if batch.nsp_labels is not None:
            pooled_state = states[rows.position == 0]
    else:
        enc_hidden = model.encode(batch)
        labelled = model(batch, memory=enc_hidden)[sel]
        if batch.nsp_labels is not None:
            pooled_state = enc_hidden[:, 0]
    # The vocabulary projection only where there is a label (~1/3 of a small encoder's FLOPs saved),
    # fused with the cross-entropy so the [N, V] logits never sit in memory.
    loss, correct = model.lm_head.loss_sum(labelled, target, with_accuracy=not model.training)
    terms = {"mlm": Term(loss, target.new_tensor(target.numel()),
                         correct if correct is not None else target.new_tensor(-1))}
    if batch.nsp_labels is not None:
        nsp_logits = model.nsp_head(model.pooler(pooled_state)).float()
        terms["nsp"] = Term(F.cross_entropy(nsp_logits, batch.nsp_labels, reduction="sum"),
                            batch.nsp_labels.new_tensor(batch.nsp_labels.numel()),
                            (nsp_logits.argmax(-1) == batch.nsp_labels).sum())
    return terms
