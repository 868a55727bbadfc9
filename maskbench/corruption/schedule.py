"""Masking-rate schedules (`corruption.mask_schedule`): the family's rate (mask_prob; MASS's span_frac;
T5's noise_density) moves from its configured value to `corruption.mask_prob_end` over the run's steps,
linearly or along a half cosine (Ankner et al. 2023: a rate decaying from 30% to 15% beats either constant).

The rate at a step is a pure function of (step, total steps), so a resumed run corrupts exactly as an
uninterrupted one; validation uses the end rate (the objective the model finishes on), so its loss is one
measure across the whole run.
"""

from __future__ import annotations

import dataclasses
import math

from maskbench.config.schema.corruption import CorruptionConfig


def is_scheduled(cfg: CorruptionConfig) -> bool:
    return cfg.mask_schedule != "constant"


def rate_at(cfg: CorruptionConfig, step: int | None, total_steps: int) -> float:
    """The rate in force at `step` (None: the end rate, for validation and measuring)."""
    start = float(getattr(cfg, cfg.rate_field))
    if not is_scheduled(cfg):
        return start
    end = float(cfg.mask_prob_end)
    frac = 1.0 if step is None else min(max(step / max(total_steps, 1), 0.0), 1.0)
    if cfg.mask_schedule == "cosine":
        frac = (1.0 - math.cos(math.pi * frac)) / 2.0
    return start + (end - start) * frac


def with_rate(cfg: CorruptionConfig, rate: float) -> CorruptionConfig:
    """The corruption config with its rate set (the corruption families read it from their config)."""
    return dataclasses.replace(cfg, **{cfg.rate_field: rate, "mask_schedule": "constant"})
