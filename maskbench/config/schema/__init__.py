"""Typed configs: one dataclass schema per config group, with the checks next to their fields
(maskbench/config/schema/fields.py) and derived values as properties (`DataConfig.content_len`, `TrainConfig.warmup`).
The corruption schemas are keyed by `corruption.family` (config/schema/corruption.py); each task kind names its own
schema (maskbench/tasks/). Merging a composed config into these schemas is maskbench/config/typed.py.
No torch here, and nothing above it: `config show` stays fast.
"""

from __future__ import annotations

from maskbench.config.schema.compare import CompareConfig, SweepConfig
from maskbench.config.schema.data import DataConfig
from maskbench.config.schema.model import ArchConfig, ModelConfig
from maskbench.config.schema.train import RunConfig, RuntimeConfig
from maskbench.config.schema.root import Config, FinetuneConfig, PretrainConfig

GROUP_SCHEMAS = {"arch": ArchConfig, "model": ModelConfig, "data": DataConfig, "runtime": RuntimeConfig,
                 "run": RunConfig, "compare": CompareConfig, "sweep": SweepConfig}

__all__ = ["GROUP_SCHEMAS", "ArchConfig", "CompareConfig", "Config", "DataConfig", "FinetuneConfig", "ModelConfig",
           "PretrainConfig", "RunConfig", "RuntimeConfig", "SweepConfig"]
