"""Corruptions, one module per family (bert, bart, mass, t5), behind a registry keyed by config name."""

from maskbench.corruption.registry import build_corruption, corruption_for_tokenizer

__all__ = ["build_corruption", "corruption_for_tokenizer"]
