"""Which blocks each optimizer step sees, and their corruption, as a pure function of (seed, step).

Epoch e visits the training blocks in a permutation seeded by (seed, e); step s takes the next
`batch_size` of them; rank r of N takes its contiguous share. Each example's corruption is keyed by
(seed, epoch, block index): dynamic (new every epoch), reproducible, and independent of batching.
Validation uses a fixed corruption (epoch -1), identical for every run with the same seed.
A background thread builds the next batches while the model trains.
"""

from __future__ import annotations

import itertools
import queue
import threading

import torch

from maskbench.cores import usable_cores
from maskbench.corruption.keyed_random import KeyedRandom, example_keys
from maskbench.data.blocks import BlockStore

_PARTNER_STREAM = 91


class PretrainBatches:
    def __init__(self, store: BlockStore, corruption, seed: int, batch_size: int, rank: int = 0, world: int = 1):
        if batch_size % world:
            raise ValueError(f"train.batch_size={batch_size} must be divisible by the {world} processes")
        self.store, self.corruption, self.seed = store, corruption, seed
        self.batch_size, self.rank, self.world = batch_size, rank, world
        self.steps_per_epoch = max(1, len(store) // batch_size)
        self._perm_epoch, self._perm = None, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._perm_epoch != epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) & 0x7FFFFFFF)
            self._perm, self._perm_epoch = torch.randperm(len(self.store), generator=g), epoch
        return self._perm

    def indices(self, step: int) -> tuple[int, torch.Tensor]:
        epoch, j = divmod(step, self.steps_per_epoch)
        glob = self._permutation(epoch)[j * self.batch_size:(j + 1) * self.batch_size]
        share = self.batch_size // self.world
        return epoch, glob[self.rank * share:(self.rank + 1) * share]

    def corrupt(self, idx: torch.Tensor, epoch: int, step: int | None = None):
        blocks = self.store.get(idx)
        keys = example_keys(self.seed, epoch, idx)
        partner = None
        if self.corruption.needs_partner:
            pidx = KeyedRandom(keys).integers(_PARTNER_STREAM, 1, 0, len(self.store)).squeeze(1)
            partner = self.store.get(pidx)
        return self.corruption(blocks, keys, partner, step=step), blocks.tokens.numel()

    def batch(self, step: int):
        epoch, idx = self.indices(step)
        return self.corrupt(idx, epoch, step)


def validation_batches(store: BlockStore, corruption, seed: int, n_blocks: int, batch_size: int,
                       rank: int = 0, world: int = 1) -> list:
    """Fixed corrupted validation batches (this rank's share), spread evenly over the split."""
    n = min(n_blocks, len(store))
    idx = torch.linspace(0, len(store) - 1, n).round().long().unique()
    idx = idx[rank::world]
    out = []
    for i in range(0, len(idx), batch_size):
        part = idx[i:i + batch_size]
        keys = example_keys(seed, -1, part)
        partner = None
        if corruption.needs_partner:
            pidx = KeyedRandom(keys).integers(_PARTNER_STREAM, 1, 0, len(store)).squeeze(1)
            partner = store.get(pidx)
        out.append(corruption(store.get(part), keys, partner).drop_diagnostics())
    if world == 1 and out:
        _check_something_to_predict(out, corruption, len(idx))
    return out


def _check_something_to_predict(batches: list, corruption, n_blocks: int) -> None:
    """Validation batches in which no position has a label give a validation loss of 0.0 (nothing divided by
    nothing, read as a perfect model): a user's objective that returns only IGNORE labels, or a rate too low for
    the few validation blocks. One line before any training."""
    from maskbench.batch import IGNORE
    from maskbench.errors import MaskbenchError
    from maskbench.config.schema.objectives import users_objective

    if any(bool((b.labels != IGNORE).any()) or b.nsp_labels is not None for b in batches):
        return
    cfg = getattr(corruption, "cfg", None)
    name = getattr(corruption, "name", "the corruption")
    fix = (f"corruption.objective={cfg.objective!r} returned only IGNORE labels: its corruption must label the "
           f"positions the model predicts (docs/objectives_api.md)") if cfg is not None and users_objective(cfg) \
        else "raise data.val_blocks or the masking rate"
    raise MaskbenchError(f"corruption={name}: none of the {n_blocks} validation blocks holds a position to predict, "
                         f"so the validation loss would read 0.0: {fix}")


def prefetch_wanted(setting: bool | None, device: str) -> bool:
    """runtime.prefetch: true/false as given; null builds batches in a thread only where that thread has a core
    of its own. On a CPU whose every core runs torch's matmul threads, the thread preempts one of them and every
    parallel op waits for it (measured on 2 cores: 0.50 s per step with the thread, 0.48 s building inline)."""
    if setting is not None:
        return bool(setting)
    return not device.startswith("cpu") or torch.get_num_threads() < usable_cores()


class Prefetcher:
    """Produce batch(step) for steps start..end-1 in a background thread, `depth` ahead (end=None: no last step,
    for a run that stops on the clock)."""

    def __init__(self, make, start: int, end: int | None, depth: int = 2, enabled: bool = True):
        self.make, self.enabled = make, enabled
        self.next_step = start
        if enabled:
            self.q: queue.Queue = queue.Queue(maxsize=depth)
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._run, args=(start, end), daemon=True)
            self.thread.start()

    def _run(self, start, end):
        for step in (range(start, end) if end is not None else itertools.count(start)):
            if self.stop.is_set():
                return
            try:
                item = (step, self.make(step), None)
            except BaseException as exc:  # surface errors in the main thread
                item = (step, None, exc)
            while not self.stop.is_set():
                try:
                    self.q.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def get(self, step: int):
        if not self.enabled:
            return self.make(step)
        got, value, exc = self.q.get()
        if exc is not None:
            raise exc
        assert got == step, f"prefetcher out of order: {got} != {step}"
        return value

    def close(self):
        """Stop and join the thread: a daemon thread still building a batch (torch ops) while the interpreter
        shuts down can abort the process (SIGABRT) after a clean interrupt."""
        if self.enabled:
            self.stop.set()
            self.thread.join(timeout=60)
