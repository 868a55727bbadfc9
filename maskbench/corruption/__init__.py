"""Corruptions, one module per family (bert, bart, mass, t5), behind a registry keyed by config name."""

from maskbench.corruption.registry import build_corruption

__all__ = ["build_corruption"]
