"""The run sequence pretraining and fine-tuning share once each has its run folder, model, optimiser and
batches: resume (weights, optimiser, RNG, step, metrics cut back to the checkpoint), the step-0
evaluation, the loop, and an interruption turned into the typed `RunInterrupted` that reaches the CLI.
One meaning of resume for both commands: continue from the newest whole step checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rich.markup import escape

from maskbench.errors import RunInterrupted
from maskbench.runs.rundir import MetricsLog
from maskbench.runs.checkpoint import TrainState, load_trainer, load_weights
from maskbench.train.loop import Interrupted, LoopHooks, train_loop


def resume_state(ckpt: Path | None, model, optimizer, metrics: MetricsLog, say) -> TrainState:
    """The state to start from: a fresh one, or the checkpoint's (weights and optimiser loaded into place)."""
    if ckpt is None:
        metrics.truncate_after(-1)  # a run killed before its first checkpoint restarts cleanly (step 0 included)
        return TrainState()
    load_weights(model, ckpt)
    state = load_trainer(ckpt, optimizer)
    metrics.truncate_after(state.step)
    say(f"[yellow]resuming {escape(ckpt.parent.parent.name)} from {ckpt.name} (step {state.step})[/]")
    return state


def run_training(model, optimizer, t, state: TrainState, hooks: LoopHooks, metrics: MetricsLog, dist, device: str,
                 runtime, run_dir: Path, description: str, split: str, first_eval: Callable[[], dict],
                 cleanup: Callable[[], None] = lambda: None) -> TrainState:
    """Evaluate step 0 (a fresh run), train to t.max_steps; Ctrl-C / SIGTERM leave a checkpoint and raise
    RunInterrupted. `cleanup` runs whatever happens (e.g. stopping a prefetch thread)."""
    try:
        if state.step == 0:  # the starting point of the curve
            metrics.log(step=0, split=split, **first_eval())
        return train_loop(model, optimizer, t, state, hooks, dist, device, runtime.precision,
                          show_progress=runtime.progress, description=description, eval_split=split)
    except Interrupted as stop:
        raise RunInterrupted(stop.step, run_dir) from None
    finally:
        cleanup()
        metrics.close()
