"""The whole config of a command, typed: `PretrainConfig` (maskbench pretrain, sweep) and `FinetuneConfig`
(maskbench finetune, compare). `load_config` returns one of these after every check has passed; the run
functions take them (and their groups: `ModelConfig`, `TrainConfig`, a corruption family, a task kind's
schema), so a value is read with its declared type and a derived value is a property (`cfg.data.content_len`,
`cfg.train.warmup`). The YAML form of a config (config.yaml, the run-name hash) is made from the object.

A config is a value: nothing changes it in place; `maskbench.config.with_changes` returns a checked copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from maskbench.config.schema.compare import CompareConfig, SweepConfig
from maskbench.config.schema.data import DataConfig
from maskbench.config.schema.model import ArchConfig, ModelConfig
from maskbench.config.schema.train import FinetuneTrainConfig, RunConfig, RuntimeConfig, TrainConfig


@dataclass(frozen=True)
class _CommandConfig:
    """The groups every command's config has (the model, its data, how and where it runs)."""
    seed: int = 0
    init: Optional[str] = None
    arch: ArchConfig = field(default_factory=ArchConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    run: RunConfig = field(default_factory=RunConfig)


@dataclass(frozen=True)
class PretrainConfig(_CommandConfig):
    # init: continue pretraining from this model folder (null: random weights)
    corruption: Any = None              # one family's schema (config/schema/corruption.py), picked by corruption.family
    sweep: SweepConfig = field(default_factory=SweepConfig)


@dataclass(frozen=True)
class FinetuneConfig(_CommandConfig):
    init: Optional[str] = "scratch"     # a run/checkpoint/transformers folder, or scratch
    train: FinetuneTrainConfig = field(default_factory=FinetuneTrainConfig)
    task: Any = None                    # one task kind's schema (maskbench/tasks/<kind>.py), picked by task.kind
    compare: CompareConfig = field(default_factory=CompareConfig)
    sweep: Optional[SweepConfig] = None  # only where a preset for both (compare_objectives) sets it


Config = PretrainConfig | FinetuneConfig
