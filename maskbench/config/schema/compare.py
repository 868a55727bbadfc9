"""Schemas of the `compare` and `sweep` groups: which runs a command plans, not what a run does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import is_int, option


@dataclass(frozen=True)
class CompareConfig:
    name: str = "custom"
    seeds: List[int] = option(factory=lambda: [0, 1])
    init: Optional[str] = None                 # a pretraining run folder; null = pretrain first
    pretrain: List[str] = option(factory=lambda: ["experiment=demo"])
    train_sizes: Optional[List[Any]] = None    # [100,300,1000,all]: label-efficiency curves
    checkpoints: Any = "last"                  # last | all | [N,...] pretraining steps
    baselines: Optional[Dict[str, Any]] = None  # {name: [pretraining overrides] or a run folder}
    tasks: Optional[List[str]] = None
    bootstrap: int = option(2000, low=100, hint="resamples for the intervals")
    # budget.png's x axis: the checkpoints' pretraining steps, tokens, FLOPs or seconds
    x: str = option("steps", choices=("steps", "tokens", "flops", "seconds"))
    # fine-tunings run side by side, each with its share of the cores (1 = one after the other)
    jobs: int = option(1, low=1)
    # minimal pairs (a file or folder, as `maskbench score --pairs`): the pretrained model's zero-shot accuracy
    # (each compared checkpoint, and its random-weight twin) beside the fine-tuned gap; null = none
    zero_shot: Optional[str] = None

    def check(self) -> None:
        if not self.seeds:
            raise MaskbenchError("compare.seeds=[] must list at least one seed, e.g. \"compare.seeds=[0,1,2]\"")
        sizes = self.train_sizes
        if sizes is not None and (not sizes or not all(x == "all" or (is_int(x) and x >= 1) for x in sizes)):
            raise MaskbenchError(f"compare.train_sizes={list(sizes)} must be a list of example counts and/or all, "
                                 f"e.g. compare.train_sizes=[100,300,1000,all] (or null)")
        # Each entry is one more run in the statistics: a repeat would be counted twice (a false interval).
        for key, values in (("seeds", self.seeds), ("train_sizes", sizes or []), ("tasks", self.tasks or []),
                            ("checkpoints", self.checkpoints if isinstance(self.checkpoints, list) else [])):
            repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
            if repeated:
                shown = "[" + ",".join(str(v) for v in values) + "]"
                raise MaskbenchError(f"compare.{key}={shown} repeats {', '.join(repeated)}: each entry is a "
                                     f"distinct run, and a repeat would be counted twice; list each once")
        ck = self.checkpoints
        if not (ck in ("last", "all") or (isinstance(ck, list) and ck and all(is_int(x) and x >= 0 for x in ck))):
            raise MaskbenchError(f"compare.checkpoints={ck} must be last, all or a list of pretraining steps, "
                                 f"e.g. compare.checkpoints=[400,1200,2000]")
        if self.zero_shot is not None and not str(self.zero_shot).strip():
            raise MaskbenchError("compare.zero_shot= is empty: give a minimal-pairs file or folder (BLiMP .jsonl or "
                                 ".tsv), e.g. compare.zero_shot=blimp/, or null")
        if self.tasks is not None and not self.tasks:
            raise MaskbenchError("compare.tasks=[] must name tasks, e.g. compare.tasks=[pos,sst2] (or null)")
        if self.baselines is not None and not all(isinstance(v, (str, list)) for v in self.baselines.values()):
            raise MaskbenchError(f"compare.baselines={self.baselines} must map names to pretraining overrides or run "
                                 f"folders, e.g. \"compare.baselines={{en:['experiment=xl_pretrain_en']}}\"")
        if self.baselines is not None and {"pretrained", "scratch"} & set(self.baselines):
            raise MaskbenchError("compare.baselines: the names pretrained and scratch are taken; choose others")


@dataclass(frozen=True)
class SlurmConfig:
    partition: Optional[str] = None
    time_min: int = option(240, low=1)
    gpus: int = option(1, low=0)
    cpus: int = option(8, low=1)
    mem: Optional[str] = None          # e.g. 32G
    account: Optional[str] = None


@dataclass(frozen=True)
class SweepConfig:
    name: str = "custom"
    dir: Optional[str] = None          # null = outputs/sweep-<hash of the grid>
    tasks: List[str] = option(factory=list)
    finetune: List[str] = option(factory=list)
    # Fine-tuning seeds per pretraining run (each task, and its scratch baseline, once per seed); null = the
    # pretraining's own seed. Several seeds put the fine-tuning noise into the report's intervals.
    finetune_seeds: Optional[List[int]] = None
    # Overrides for one task's fine-tunings on top of sweep.finetune, e.g. a probe's learning rate:
    # {pos_probe: ['train.lr=5e-3']}.
    task_overrides: Optional[Dict[str, List[str]]] = None
    scratch: bool = True
    grid: List[str] = option(factory=list)
    launcher: str = option("sequential", choices=("sequential", "local", "slurm"))
    jobs: int = option(2, low=1)
    slurm: SlurmConfig = option(factory=SlurmConfig)

    def check(self) -> None:
        from maskbench.optional import installed, missing

        if self.launcher != "sequential" and not installed("submitit"):
            raise missing("submitit", f"sweep.launcher={self.launcher}", "cluster")
        stray = sorted(set(self.task_overrides or {}) - set(self.tasks))
        if stray:
            raise MaskbenchError(f"sweep.task_overrides names {', '.join(stray)}, which sweep.tasks={list(self.tasks)} "
                                 f"does not run: add it to sweep.tasks or drop its overrides")
        seeds = self.finetune_seeds
        if seeds is not None and (not seeds or len(set(seeds)) != len(seeds) or not all(is_int(x) for x in seeds)):
            raise MaskbenchError(f"sweep.finetune_seeds={list(seeds)} must list distinct integer seeds, "
                                 f"e.g. \"sweep.finetune_seeds=[0,1]\" (or null: the pretraining's seed)")
