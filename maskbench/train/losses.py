"""The pretraining loss of a step: the objective's `loss_terms` (corruption/base.py: Noise); the standard
masked-LM terms live in models/losses.py."""

from __future__ import annotations

from maskbench.models.losses import pretrain_terms  # noqa: F401  (the standard terms; benchmarks import them here)


def objective_terms(corruption_cfg):
    """(model, batch) -> {name: batch.Term}: the loss terms of the objective `corruption_cfg`."""
    from maskbench.corruption.registry import noise_class

    from maskbench.config.schema.objectives import objective_code, users_objective

    hooks = noise_class(corruption_cfg)
    if not users_objective(corruption_cfg):
        return lambda model, batch: hooks.loss_terms(corruption_cfg, model, batch)

    def terms(model, batch):  # a user's own loss: its exception names the objective
        with objective_code(corruption_cfg, f"corruption {hooks.__name__}.loss_terms"):
            return hooks.loss_terms(corruption_cfg, model, batch)
    return terms
