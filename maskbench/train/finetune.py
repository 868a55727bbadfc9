"""`maskbench finetune`: a pretrained checkpoint (or the same model from scratch) on one of the task kinds
(`maskbench/tasks/`), with the shared training loop, evaluation every N steps, and a run folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.markup import escape

from maskbench.config import to_yaml, with_changes
from maskbench.tasks.subsets import count_examples, subset_features, subset_schedule
from maskbench.data.tokenizer import Vocab, load_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.models import count_params
from maskbench.runs.source import ModelSource, resolve_source
from maskbench.runs.lock import run_lock
from maskbench.files import write_atomic
from maskbench.runs.rundir import MetricsLog, RunDir, env_info, read_metrics
from maskbench.runs.trackers import open_trackers
from maskbench.tasks.batching import FinetuneBatches
from maskbench.train.evaluate import evaluate_all, task_terms
from maskbench.tasks.loading import TaskData, load_task
from maskbench.runs.task_model import build_task_model, task_record
from maskbench.runs import layout
from maskbench.runs.checkpoint import TrainState, clean_leftovers, latest_step_checkpoint, save_run_checkpoint
from maskbench.train.distributed import Dist
from maskbench.train.loop import LoopHooks
from maskbench.train.optim import build_optimizer
from maskbench.train.session import resume_state, run_training
from maskbench.train.setup import configure_torch, pick_device
from maskbench.config.schema import FinetuneConfig


def resolve_init(cfg: FinetuneConfig) -> ModelSource:
    """init=scratch (the model, arch and data groups with random weights), a maskbench run or checkpoint,
    or a transformers model folder."""
    if cfg.init == "scratch":
        from maskbench.data.cache import build_cache

        return ModelSource.scratch(cfg.model, cfg.arch.name, build_cache(cfg.data) / "tokenizer.json")
    return resolve_source(cfg.init, cfg.data.cache_dir)


def train_examples(data: TaskData) -> int:
    """Examples behind the training features (questions for QA, whose windows are features)."""
    return count_examples(data.train, data.kind.example_ids(data.train))


def with_subset(cfg: FinetuneConfig, data: TaskData, say) -> tuple:
    """task.train_size: the nested seeded subset, and the schedule scaled to it (tasks/subsets.py)."""
    n_all = train_examples(data)
    data.train = subset_features(data.train, cfg.task.train_size, cfg.seed, balanced=data.kind.sentence_level,
                                 example_ids=data.kind.example_ids(data.train))
    n = train_examples(data)
    if n < n_all:
        steps, every = subset_schedule(cfg.train.max_steps, cfg.train.eval_every, n, n_all,
                                       cfg.train.subset_min_steps, cfg.train.subset_min_epochs, cfg.train.batch_size)
        say(f"{n:,} of {n_all:,} training examples (task.train_size, seeded by seed={cfg.seed}): {steps} steps, "
            f"evaluated every {every}")
        cfg = with_changes(cfg, train={"max_steps": steps, "eval_every": every})
    return cfg, data


def run_finetune(cfg: FinetuneConfig, command: str = "", console=None, backbone: ModelSource | None = None,
                 run_dir: Path | None = None, continue_existing: bool = False) -> Path:
    """Fine-tune `backbone` (else cfg.init) as `cfg` says; `continue_existing`: a done folder is kept, a partial
    one continued, as with train.resume=true (what compare and sweep ask for each of their runs)."""
    say = (lambda msg: console.print(msg)) if console else (lambda msg: None)
    if run_dir and RunDir(run_dir).status == "done":  # known before any data is read
        say(f"[green]{escape(Path(run_dir).name)} is already complete[/]")
        return Path(run_dir)
    if cfg.train.steps != cfg.train.max_steps:  # train.budget in steps: the steps trained (as in pretraining)
        cfg = with_changes(cfg, train={"max_steps": cfg.train.steps})
    backbone = backbone or resolve_init(cfg)
    device = pick_device(cfg.runtime)
    configure_torch(cfg.runtime, cfg.seed, device)
    tok = load_tokenizer(backbone.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    cfg, data = with_subset(cfg, load_task(cfg.task, tok, vocab, backbone.arch, cfg.data.cache_dir), say)
    if max(len(f.ids) for f in data.train + data.eval) > backbone.model_cfg.max_positions:
        raise MaskbenchError(f"task.max_len={cfg.task.max_len} exceeds the model's max_positions="
                             f"{backbone.model_cfg.max_positions}: lower task.max_len")
    run = RunDir(run_dir) if run_dir else RunDir.for_finetuning(cfg, backbone.label)
    if run.status == "done":
        say(f"[green]{escape(run.path.name)} is already complete[/]")
        return run.path
    with run_lock(run.path):  # one writer per run folder
        return _finetune_locked(cfg, command, say, backbone, run, device, vocab, data, continue_existing)


def _finetune_locked(cfg: FinetuneConfig, command, say, backbone, run: RunDir, device, vocab, data: TaskData,
                     continue_existing: bool) -> Path:
    task, t, kind, run_dir = cfg.task, cfg.train, data.kind, run.path
    resume = RunDir.resumes(t.resume, continue_existing)
    run.claim(resume)
    clean_leftovers(run_dir)
    ckpt = latest_step_checkpoint(run_dir, say) if resume else None

    # same seed -> same head init and dropout for pretrained and scratch
    model = build_task_model(backbone.model_cfg, backbone.arch, vocab.size, kind, data.labels, cfg.seed,
                             backbone.load_into).to(device)
    optimizer = build_optimizer(model, t)
    metrics = MetricsLog(layout.metrics_path(run_dir))
    state = resume_state(ckpt, model, optimizer, metrics, say)  # resume as in pretraining
    params = count_params(model)
    config_yaml = to_yaml(cfg)
    run.write_metadata(config_yaml, command, env_info(cfg.seed, device))
    write_atomic(run_dir / layout.LABELS, json.dumps(data.labels))
    write_atomic(run_dir / layout.TOKENIZER, backbone.tokenizer_path.read_text())
    # A probe trains its head alone: say how many of the model's parameters that is.
    sized = (f"{count_params(model, trainable_only=False) / 1e6:.2f}M params, {params:,} trained (frozen probe)"
             if task.freeze else f"{params / 1e6:.2f}M params")
    say(f"[bold]{task.name}[/] from [bold]{escape(backbone.source)}[/] ({backbone.arch}, {sized}, "
        f"{len(data.train):,} train / {len(data.eval):,} eval) -> {escape(str(run_dir))}")
    batches = FinetuneBatches(data.train, t.batch_size, cfg.seed, kind, backbone.arch, vocab.pad)
    metrics.trackers = open_trackers(cfg, run_dir)
    last_units = {}

    def evaluate():
        out, units = evaluate_all(model, data, backbone.arch, vocab.pad, device)
        last_units.update(units)
        return out

    record = task_record(kind, data.labels, backbone)  # with the weights, the task model rebuilds alone

    def save(st: TrainState, final: bool):  # the whole task model; step-N also the optimiser (resume)
        save_run_checkpoint(run_dir, model, None if final else optimizer, st, config_yaml, final, t.keep_checkpoints,
                            {"params": params, "task": task.name}, {layout.TASK_RECORD: record})

    def batch_on_device(step):
        batch, n_tokens = batches.batch(step)
        return batch.to(device), n_tokens

    hooks = LoopHooks(batch=batch_on_device, terms=task_terms(kind), evaluate=evaluate, save=save, log=metrics.log)
    state = run_training(model, optimizer, t, state, hooks, metrics, Dist(), device, cfg.runtime, run_dir,
                         description=task.name, split="eval", first_eval=evaluate)
    evals = [{k: v for k, v in e.items() if k not in ("split", "tokens", "elapsed_s")}
             for e in read_metrics(run_dir) if e["split"] == "eval"]
    first, final = ({k: v for k, v in e.items() if k != "step"} for e in (evals[0], evals[-1]))
    summary = {"kind": "finetune", "task": task.name, "init": "pretrained" if backbone.pretrained else "scratch",
               "objective": backbone.objective, "init_source": backbone.source, "arch": backbone.arch,
               "model": backbone.model_dict().get("name"), "seed": cfg.seed, "train_examples": train_examples(data),
               "steps": state.step, "tokens_seen": state.tokens_seen, "params": params, "wall_s": round(state.wall_s, 2),
               "metric": task.metric, "freeze": task.freeze, "probe_layer": task.probe_layer,
               "final_eval": final, "initial_eval": dict(first),
               "extra_eval": {e.name: {"examples": len(e.examples), **{k[len(e.name) + 1:]: v for k, v in final.items()
                                                                     if k.startswith(e.name + "_")}} for e in data.extra}}
    layout.write_eval_units(run_dir, last_units)  # per-example scores: intervals
    run.write_summary(summary)
    say(f"[green]{task.name}[/]: {task.metric} = {final.get(task.metric)} ({time.strftime('%H:%M:%S')})")
    return run_dir
