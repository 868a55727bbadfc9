"""The one training loop, shared by pretraining and fine-tuning.

Per step: fetch the (prefetched) batch, compute loss terms as (sum, count), normalise by counts
summed over ranks, backward, sum gradients over ranks, clip, AdamW step. Every `eval_every` steps,
evaluate; every `ckpt_every`, checkpoint. Ctrl-C or SIGTERM saves a checkpoint before exiting, so
`train.resume=true` continues exactly where the run stopped.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass
from typing import Callable

import torch

from maskbench.runs.progress import progress_bar
from maskbench.runs.checkpoint import TrainState
from maskbench.config.schema.train import TrainConfig
from maskbench.train.optim import lr_at, lr_at_time


class Interrupted(Exception):
    """Raised when the run was stopped by Ctrl-C / SIGTERM after saving a resumable checkpoint."""

    def __init__(self, step: int):
        super().__init__(step)
        self.step = step


@dataclass
class LoopHooks:
    batch: Callable[[int], tuple]             # step -> (batch on device, tokens in it)
    terms: Callable                           # (model, batch) -> {name: batch.Term}
    evaluate: Callable[[], dict]              # -> {"loss": ..., other metrics}
    save: Callable[[TrainState, bool], None]  # (state, final)
    log: Callable[..., None]                  # metrics.jsonl writer (rank 0)
    status: Callable[[int, float], str] | None = None  # (step, eval loss) -> a note for the progress line


def autocast(device: str, precision: str):
    """bf16 autocast where asked (or on a GPU with precision=auto), else a no-op context."""
    if precision == "bf16" or (precision == "auto" and device.startswith("cuda")):
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


class StopRequest:
    """Ctrl-C / SIGTERM set a flag; the loop checkpoints at the next step boundary (never mid-step, so the
    saved state is exactly consistent). A second signal stops at once (`second_stops=False`: it is counted
    instead, for a caller that passes each signal on); the last checkpoint stays intact. `signal_name`: the
    first signal's name; `count`: how many came."""

    def __init__(self, second_stops: bool = True):
        self.requested, self.second_stops = False, second_stops
        self.signal_name, self.count = None, 0
        self._old = {}

    def _handler(self, signum, frame):
        if self.requested and self.second_stops:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = self.signal_name or signal.Signals(signum).name
        self.count += 1

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def train_loop(model, optimizer, t: TrainConfig, state: TrainState, hooks: LoopHooks, dist, device: str, precision: str,
               show_progress: bool = True, description: str = "train", eval_split: str = "val") -> TrainState:
    model.train()
    last_log_time, tokens_since = time.time(), 0
    wall_start = time.time() - state.wall_s
    val = None
    budget_s = t.seconds_budget  # a wall-clock budget: stop when it is spent, the schedule following its share

    def finished() -> bool:
        return state.wall_s >= budget_s if budget_s is not None else state.step >= t.max_steps

    def bar_position() -> int:
        return int(state.wall_s) if budget_s is not None else state.step

    total = int(math.ceil(budget_s)) if budget_s is not None else t.max_steps
    if budget_s is not None:
        description += " (seconds)"
    with StopRequest() as stop, progress_bar(total, description, show_progress and dist.is_main,
                                              start=bar_position()) as bar:
        while not finished():
            step = state.step
            lr = lr_at(step, t) if budget_s is None else lr_at_time(step, state.wall_s, t)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch, n_tok = hooks.batch(step)
            with autocast(device, precision):
                terms = hooks.terms(model, batch)
            # Global counts first, so every rank divides by the same numbers.
            counts = dist.all_reduce_(torch.stack([term.count.float() for term in terms.values()]).cpu())
            loss = sum(term_weight(term) * term.loss_sum / max(float(n), 1.0) for term, n in zip(terms.values(), counts)
                       if term_weight(term))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            dist.sum_grads(model)
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            optimizer.step()
            state.step += 1
            state.tokens_seen += n_tok * dist.world
            tokens_since += n_tok * dist.world
            # Every rank stops at the same step: rank 0's clock decides.
            state.wall_s = _shared_clock(dist, time.time() - wall_start) if budget_s is not None \
                else time.time() - wall_start
            last = finished()
            if state.step % t.log_every == 0 or last:
                sums = dist.all_reduce_(torch.stack([term.loss_sum.detach().float() for term in terms.values()]).cpu())
                weights = [term_weight(term) for term in terms.values()]
                loss_val = float(sum(w * s / max(float(n), 1.0) for s, n, w in zip(sums, counts, weights)))
                if not math.isfinite(loss_val):
                    raise FloatingPointError(f"loss became {loss_val} at step {state.step}: lower train.lr")
                now = time.time()
                tps = tokens_since / max(now - last_log_time, 1e-9)
                last_log_time, tokens_since = now, 0
                event = {"step": state.step, "split": "train", "loss": round(loss_val, 5), "lr": lr,
                         "tokens_per_s": round(tps, 1), "tokens": state.tokens_seen,
                         "grad_norm": round(float(gnorm), 4), "elapsed_s": round(now - wall_start, 2)}
                for name, s, n, w in zip(terms, sums, counts, weights):
                    if len(terms) > 1:
                        event[f"{name}_{'share' if w == 0 else 'loss'}"] = round(float(s / max(float(n), 1.0)), 5)
                hooks.log(**event)
                bar(step=bar_position(), loss=loss_val, tps=tps)
            else:
                bar(step=bar_position())
            if state.step % t.eval_every == 0 or last:
                val = hooks.evaluate()
                model.train()
                hooks.log(step=state.step, split=eval_split, tokens=state.tokens_seen,
                          elapsed_s=round(time.time() - wall_start, 2), **val)
                bar(val=val["loss"], note=hooks.status(state.step, val["loss"]) if hooks.status else None)
            if budget_s is None:  # evaluation time counts in the run's wall time (a seconds budget: from the next step)
                state.wall_s = time.time() - wall_start
            if state.step % t.ckpt_every == 0 and not last:
                hooks.save(state, False)
            if dist_flag(dist, stop.requested):
                hooks.save(state, False)
                raise Interrupted(state.step)
    hooks.save(state, True)
    return state


def _shared_clock(dist, seconds: float) -> float:
    if not dist.enabled:
        return seconds
    return float(dist.all_reduce_(torch.tensor([seconds]))[0]) / dist.world  # the same mean on every rank


def term_weight(term) -> float:
    """A loss term's weight in the loss (batch.Term: 1 unless the objective gives another; 0 for a share that is
    only logged)."""
    return float(term.weight)


def dist_flag(dist, flag: bool) -> bool:
    """Any rank asked to stop -> all ranks stop at the same step."""
    if not dist.enabled:
        return flag
    return bool(dist.all_reduce_(torch.tensor([float(flag)])).item() > 0)


@torch.no_grad()
def evaluate_terms(model, batches, terms_fn, dist, device: str, precision: str) -> dict:
    """Loss (and accuracy) over fixed batches, summed over ranks."""
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    weights: dict[str, float] = {}
    for batch in batches:
        with autocast(device, precision):
            terms = terms_fn(model, batch.to(device))
        for name, term in terms.items():
            acc = torch.stack([term.loss_sum.float(), term.count.float(), term.correct.float()]).cpu()
            sums[name] = sums.get(name, torch.zeros(3)) + acc
            weights[name] = term_weight(term)
    out = {}
    total = 0.0
    for name, v in sums.items():
        v = dist.all_reduce_(v)
        loss = float(v[0] / max(float(v[1]), 1.0))
        if weights[name] == 0:  # a share that is logged, not trained (ELECTRA's replaced positions)
            out[f"{name}_share"] = round(loss, 5)
            continue
        total += weights[name] * loss
        if len(sums) > 1:
            out[f"{name}_loss"] = round(loss, 5)
        out[f"{name}_acc"] = round(float(v[2] / max(float(v[1]), 1.0)), 5)
    out["loss"] = round(total, 5)
    return out
