"""AdamW with decoupled weight decay (none on biases, LayerNorms, embeddings) and warm-up then decay."""

from __future__ import annotations

import math

import torch

from maskbench.config.schema.train import TrainConfig


def build_optimizer(model, t) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # Biases, LayerNorm gains and embeddings are not decayed (BERT, GPT-2 convention).
        (no_decay if p.ndim < 2 or "tok." in name or "pos." in name or "seg." in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": t.lr, "betas": tuple(t.betas), "eps": 1e-8}
    try:  # fused AdamW where the build supports it (CUDA, recent CPU builds): one kernel per step
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, foreach=True, **kwargs)


def lr_at(step: int, t: TrainConfig) -> float:
    """Learning rate for optimizer step `step` (0-based): linear warm-up, then linear/cosine/constant."""
    peak, total, warm = t.lr, t.max_steps, t.warmup
    if warm and step < warm:
        return peak * (step + 1) / warm
    if t.schedule == "constant":
        return peak
    frac = min(1.0, (step - warm) / max(1, total - warm))
    if t.schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * frac))
    return peak * (1 - frac)


def lr_at_time(step: int, elapsed_s: float, t: TrainConfig) -> float:
    """Learning rate under a wall-clock budget (train.budget_unit=seconds, cramming's): the schedule follows the
    share of the budget spent. Warm-up: warmup_steps optimizer steps when >= 1, else that share of the budget."""
    peak, budget, w = t.lr, float(t.budget), t.warmup_steps
    if w >= 1 and step < w:
        return peak * (step + 1) / w
    warm_s = float(w) * budget if w < 1 else 0.0
    if elapsed_s < warm_s:
        return peak * max(elapsed_s / warm_s, 1.0 / 1000)
    if t.schedule == "constant":
        return peak
    frac = min(1.0, (elapsed_s - warm_s) / max(budget - warm_s, 1e-9))
    if t.schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * frac))
    return peak * (1 - frac)
