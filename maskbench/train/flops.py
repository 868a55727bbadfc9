"""Model FLOPs of a training step: the objective's `step_flops` (corruption/base.py: Noise); the formula the
budgets, the report and the benchmark share is models/flops.py's."""

from __future__ import annotations

from maskbench.models.flops import step_flops  # noqa: F401  (the report and tests import it here)


def batch_flops(model_cfg, arch: str, vocab: int, batch, corruption_cfg) -> float:
    """FLOPs of one training step on this (corrupted) batch, as its objective counts them (ELECTRA's generator
    included)."""
    from maskbench.corruption.registry import noise_class
    from maskbench.config.schema.objectives import objective_code

    hooks = noise_class(corruption_cfg)
    with objective_code(corruption_cfg, f"corruption {hooks.__name__}.step_flops"):
        return hooks.step_flops(corruption_cfg, model_cfg, arch, vocab, batch)
