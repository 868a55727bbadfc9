"""`maskbench pretrain`: corpus -> tokenizer + token cache -> corrupted batches -> model -> run folder."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from rich.markup import escape

from maskbench.config import to_yaml, with_changes
from maskbench.corruption import corruption_for_tokenizer
from maskbench.corruption.registry import build_pretraining_model
from maskbench.config.schema.objectives import check_arch
from maskbench.data.blocks import BlockStore
from maskbench.data.cache import build_cache, load_cache_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.models import count_params
from maskbench.report.plateaus import find_plateaus, plateau_note
from maskbench.files import write_atomic
from maskbench.runs.rundir import MetricsLog, RunDir, env_info, read_metrics
from maskbench.runs.trackers import open_trackers
from maskbench.runs.lock import run_lock
from maskbench.train.batches import PretrainBatches, Prefetcher, prefetch_wanted, validation_batches
from maskbench.runs import layout
from maskbench.runs.checkpoint import TrainState, clean_leftovers, save_run_checkpoint, usable_checkpoint
from maskbench.train.distributed import init_distributed, shutdown
from maskbench.train.loop import LoopHooks, evaluate_terms
from maskbench.train.losses import objective_terms
from maskbench.train.optim import build_optimizer
from maskbench.train.session import resume_state, run_training
from maskbench.train.setup import configure_torch, pick_device
from maskbench.runs.source import ModelSource
from maskbench.config.schema import PretrainConfig


def prepare_run_dir(cfg: PretrainConfig, run_dir: Path, dist, say=lambda msg: None, continue_existing: bool = False):
    """Take the run folder (one writer: rank 0 holds its lock until the run ends), or find the newest
    whole checkpoint to resume from. Never overwrites a run. Every rank checks before any rank writes
    (barrier), so all ranks reach the same verdict. Returns (checkpoint or None, lock or None)."""
    lock = run_lock(run_dir).acquire() if dist.is_main else None
    try:
        status = RunDir(run_dir).status
        dist.barrier()
        RunDir(run_dir).refuse_overwrite(RunDir.resumes(cfg.train.resume, continue_existing), status)
        if dist.is_main:
            clean_leftovers(run_dir)
        return usable_checkpoint(run_dir, say if dist.is_main else (lambda msg: None)), lock
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def run_pretrain(cfg: PretrainConfig, command: str = "", console=None, continue_existing: bool = False) -> Path:
    """Pretrain as `cfg` says into its run folder; `continue_existing`: a done folder is kept, a partial one
    continued, as with train.resume=true (what compare and sweep ask for each of their runs)."""
    say = (lambda msg: console.print(msg)) if console else (lambda msg: None)
    dist = init_distributed(cfg.runtime.device if cfg.runtime.device != "auto" else
                            ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        run_dir = _run(cfg, command, say, dist, continue_existing)
        # Leave together: a rank that tears down gloo while rank 0 still writes the summary and plot can
        # see its peer's sockets close mid-exit and abort, failing a run that finished (seen on a loaded machine).
        dist.barrier()
        return run_dir
    finally:
        shutdown(dist)


def apply_init(cfg: PretrainConfig) -> tuple[PretrainConfig, ModelSource | None]:
    """With `init=FOLDER`: the folder's model shape and tokenizer replace the config's (its weights are
    loaded later); returns (cfg, source or None)."""
    if not cfg.init:
        return cfg, None
    from maskbench.runs.source import resolve_source

    src = resolve_source(cfg.init, cfg.data.cache_dir)
    check_arch(cfg.corruption, src.arch, why=f"init={cfg.init}")  # no arch= fixes this: it names what fits
    if src.arch != cfg.arch.name:
        raise MaskbenchError(f"init={cfg.init} is an {src.arch} model: add arch={src.arch}")
    if cfg.data.tokenizer_file:
        raise MaskbenchError("init= brings its model's tokenizer: drop data.tokenizer_file")
    model = {**src.model_dict(), "dropout": cfg.model.dropout}
    # checked again as a whole: e.g. data.seq_len against the imported model's positions
    cfg = with_changes(cfg, model=model, data={"tokenizer_file": str(src.tokenizer_path)})
    return cfg, src


def _run(cfg: PretrainConfig, command, say, dist, continue_existing: bool) -> Path:
    device = pick_device(cfg.runtime, dist.local_rank)
    configure_torch(cfg.runtime, cfg.seed, device)
    run_dir = RunDir.for_pretraining(cfg).path  # named by the config as given (init= included), as `config show` says
    ckpt, lock = prepare_run_dir(cfg, run_dir, dist, say=lambda m: say(f"[yellow]{escape(m)}[/]"),
                                 continue_existing=continue_existing)
    try:
        return _run_locked(cfg, command, say, dist, run_dir, ckpt, device)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(cfg: PretrainConfig, command, say, dist, run_dir: Path, ckpt, device) -> Path:
    if ckpt is not None and ckpt.name == layout.FINAL and layout.is_done(run_dir):
        say(f"[green]run {escape(str(run_dir))} is already complete[/] (checkpoints/final exists)")
        return run_dir
    cfg, init_source = apply_init(cfg)

    # Data: tokenizer + cache are built once (rank 0 first, so ranks never race on the cache).
    if dist.is_main:
        cache = build_cache(cfg.data, progress=lambda m: say(f"[dim]{escape(m)}[/]"), show_bar=cfg.runtime.progress)
    dist.barrier()
    if not dist.is_main:
        cache = build_cache(cfg.data)
    tok = load_cache_tokenizer(cache)
    vocab, corruption = corruption_for_tokenizer(cfg, tok)  # T5 sentinels appended where the vocabulary lacks them
    content_len = cfg.data.content_len
    train_store = BlockStore(cache, "train", content_len)
    val_store = BlockStore(cache, "val", content_len)
    budget = resolve_budget(cfg, train_store, corruption, vocab.size)
    if budget["max_steps"] not in (None, cfg.train.max_steps):
        cfg = with_changes(cfg, train={"max_steps": budget["max_steps"]})
    t = cfg.train
    if corruption.scheduled and t.seconds_budget is not None:
        raise MaskbenchError("corruption.mask_schedule follows the run's steps: use train.budget_unit=steps, tokens "
                             "or flops with it, not seconds")
    corruption.total_steps = t.max_steps  # a masking schedule runs over the (budget-resolved) steps
    batches = PretrainBatches(train_store, corruption, cfg.seed, t.batch_size, dist.rank, dist.world)
    val = validation_batches(val_store, corruption, cfg.seed, cfg.data.val_blocks,
                             max(1, t.batch_size // dist.world), dist.rank, dist.world)

    model = build_pretraining_model(cfg.model, cfg.arch.name, vocab.size, cfg.corruption, vocab).to(device)
    optimizer = build_optimizer(model, t)
    metrics = MetricsLog(layout.metrics_path(run_dir), enabled=dist.is_main)
    if ckpt is None and init_source is not None:
        init_source.load_into(model)
        say(f"starting from {escape(init_source.source)} ({init_source.objective})")
    state = resume_state(ckpt, model, optimizer, metrics, say)
    params = count_params(model)
    config_yaml = to_yaml(cfg)
    if dist.is_main:
        RunDir(run_dir).write_metadata(config_yaml, command, env_info(cfg.seed, device))
        write_atomic(run_dir / layout.TOKENIZER, tok.to_str())
        say(f"[bold]{cfg.corruption.name}[/] on [bold]{cfg.arch.name}[/] ({cfg.model.name}, {params / 1e6:.2f}M "
            f"params) -> {escape(str(run_dir))}")
    step_model = torch.compile(model) if cfg.runtime.compile else model

    def make(step):
        b, n = batches.batch(step)
        return b.drop_diagnostics().to(device, non_blocking=True), n

    if dist.is_main:
        metrics.trackers = open_trackers(cfg, run_dir)
    last_step = None if t.seconds_budget is not None else t.max_steps  # the clock stops it
    prefetch = Prefetcher(make, state.step, last_step, enabled=prefetch_wanted(cfg.runtime.prefetch, device))

    def save(st: TrainState, final: bool):
        if not dist.is_main:
            return
        save_run_checkpoint(run_dir, model, optimizer, st, config_yaml, final, t.keep_checkpoints, {"params": params})

    val_points = [(e["step"], e["loss"]) for e in read_metrics(run_dir) if e.get("split") == "val"] \
        if state.step else []

    def status(step: int, loss: float) -> str:  # "on a plateau since step N" in the progress line
        val_points.append((step, loss))
        return plateau_note(val_points)

    terms = objective_terms(cfg.corruption)
    hooks = LoopHooks(
        batch=prefetch.get, terms=terms,
        evaluate=lambda: evaluate_terms(step_model, val, terms, dist, device, cfg.runtime.precision),
        save=save, log=_with_mask_rate(metrics.log, corruption), status=status)
    t0 = time.time()
    state = run_training(step_model, optimizer, t, state, hooks, metrics, dist, device, cfg.runtime, run_dir,
                         description=cfg.corruption.name, split="val", cleanup=prefetch.close,
                         first_eval=lambda: {"tokens": 0, "elapsed_s": 0.0, **evaluate_terms(
                             model, val, terms, dist, device, cfg.runtime.precision)})
    if dist.is_main:
        write_summary(cfg, run_dir, state, params, tokens_per_step=t.batch_size * content_len, budget=budget)
        from maskbench.report.plots import plot_runs

        plot_runs([run_dir], run_dir / "plots" / "loss.png")
        say(f"[green]done[/] in {time.time() - t0:.0f}s: {escape(str(run_dir))}")
    return run_dir


def _with_mask_rate(log, corruption):
    """Train events carry the masking rate in force at their step when a schedule moves it."""
    if not corruption.scheduled:
        return log
    return lambda **e: log(**e, mask_rate=round(corruption.rate(e["step"]), 6)) if e.get("split") == "train" \
        else log(**e)


def resolve_budget(cfg: PretrainConfig, store, corruption, vocab_size: int) -> dict:
    """max_steps from train.budget in steps, tokens (of original text) or model FLOPs (estimated on
    8 sample batches, decoder included), so objectives can be compared on the same budget."""
    from maskbench.train.flops import batch_flops

    t = cfg.train
    sample = PretrainBatches(store, corruption, cfg.seed, t.batch_size)
    flops = sum(batch_flops(cfg.model, cfg.arch.name, vocab_size, sample.batch(s)[0], cfg.corruption)
                for s in range(8)) / 8
    tokens = t.batch_size * store.content_len
    unit, amount = t.budget_unit, t.budget
    if amount is None or unit == "seconds":  # a wall-clock budget stops by the clock (train/loop.py)
        steps = t.max_steps
    else:
        per_step = {"steps": 1.0, "tokens": float(tokens), "flops": flops}[unit]
        steps = max(1, int(round(float(amount) / per_step)))
    return {"unit": unit if amount is not None else "steps", "amount": amount,
            "max_steps": None if unit == "seconds" and amount is not None else steps,
            "flops_per_step": flops, "tokens_per_step": tokens,
            "total_flops": None if unit == "seconds" and amount is not None else flops * steps}


def write_summary(cfg: PretrainConfig, run_dir: Path, state: TrainState, params: int, tokens_per_step: int,
                  budget: dict | None = None) -> dict:
    events = read_metrics(run_dir)
    vals = [e for e in events if e.get("split") == "val"]
    trains = [e for e in events if e.get("split") == "train"]
    summary = {
        "kind": "pretrain", "corruption": cfg.corruption.name, "arch": cfg.arch.name, "model": cfg.model.name,
        "seed": cfg.seed, "steps": state.step, "tokens_seen": state.tokens_seen, "params": params,
        "wall_s": round(state.wall_s, 2), "initial_val_loss": vals[0]["loss"] if vals else None,
        "final_val_loss": vals[-1]["loss"] if vals else None,
        "final_val_acc": vals[-1].get("mlm_acc") if vals else None,
        "final_train_loss": trains[-1]["loss"] if trains else None,
        "tokens_per_s": round(state.tokens_seen / state.wall_s, 1) if state.wall_s else None,
        "seq_len": cfg.data.seq_len, "batch_size": cfg.train.batch_size, "tokens_per_step": tokens_per_step,
        "budget": budget, "flops": round(budget["flops_per_step"] * state.step) if budget else None,
        "plateaus": find_plateaus([(e["step"], e["loss"]) for e in vals]),
    }
    layout.write_summary(run_dir, summary)
    return summary
