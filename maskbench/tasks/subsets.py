"""Nested, seeded, class-balanced training subsets for label-efficiency curves.

One seeded order of the training examples per seed; a subset of n is the first n examples of that
order, so the subset of 100 lies inside the subset of 300 (nested), and the pretrained and the
from-scratch run with the same seed see the same examples. For classification the order deals the
classes round-robin (each class shuffled, classes visited in a seeded order), so every prefix is as
balanced as the classes' sizes allow: a 100-example SST-2 subset holds 50 of each label.
QA subsets count questions, not windows: all windows of a chosen question come along.
"""

from __future__ import annotations

import math

import torch


def example_order(n_examples: int, seed: int, classes: list | None = None) -> list[int]:
    """A seeded order of example indices; class-interleaved when `classes` (one label per example) is given."""
    g = torch.Generator().manual_seed((seed * 7_919 + 104_729) & 0x7FFFFFFF)
    perm = torch.randperm(n_examples, generator=g).tolist()
    if classes is None:
        return perm
    by_class: dict = {}
    for i in perm:  # each class in shuffled order
        by_class.setdefault(classes[i], []).append(i)
    names = sorted(by_class, key=str)
    names = [names[k] for k in torch.randperm(len(names), generator=g).tolist()]
    queues = [by_class[c] for c in names]
    order, depth = [], 0
    while len(order) < n_examples:  # deal one of each class per round; exhausted classes drop out
        order += [q[depth] for q in queues if depth < len(q)]
        depth += 1
    return order


def subset_features(features, n: int | None, seed: int, balanced: bool, example_ids: list | None = None) -> list:
    """The features of the first `n` examples in the seeded order (all of them when n is None or too large).

    `example_ids`: the example each feature encodes, where several share one (a QA question's windows, the
    kind's `example_ids`); None: each feature is an example, and only then is the order class-balanced."""
    if n is None:
        return list(features)
    keys = sorted(set(example_ids)) if example_ids is not None else list(range(len(features)))
    if n >= len(keys):
        return list(features)
    classes = [features[k].label for k in keys] if balanced and example_ids is None else None
    chosen = {keys[i] for i in example_order(len(keys), seed, classes)[:n]}
    if example_ids is not None:
        return [f for f, e in zip(features, example_ids) if e in chosen]
    return [f for i, f in enumerate(features) if i in chosen]


def count_examples(features, example_ids: list | None = None) -> int:
    """Examples (questions for QA) behind a list of features (`example_ids` as subset_features takes it)."""
    return len(set(example_ids)) if example_ids is not None else len(features)


def subset_schedule(max_steps: int, eval_every: int, n: int, n_all: int, min_steps: int,
                    min_epochs: float = 0.0, batch_size: int = 32) -> tuple[int, int]:
    """(steps, eval_every) for a subset of n of n_all examples: max_steps x sqrt(n / n_all), at least
    min_steps and at least min_epochs passes over the subset (never more than max_steps), evaluated as often
    per run as the full schedule.

    Why the square root: a fixed number of epochs starves the small subsets (100 SST-2 examples at batch
    32 are 3 steps an epoch), a fixed number of steps overfits them for nothing; sqrt gives the small
    subsets many more epochs (100 of 6,920 with max_steps 600: 72 steps = 23 epochs) but far fewer steps.
    Why the epoch floor: where max_steps is small against the full set, sqrt leaves mid-sized subsets under
    three epochs, too few for a pretrained model to use what it knows (measured, docs/results.md: 1,000
    reviews, 77 steps = 2.5 epochs: -0.42 [-1.92, +1.13]; 200 steps = 6.4 epochs: +1.97 [+0.22, +3.72])."""
    if n >= n_all:
        return max_steps, eval_every
    epochs = math.ceil(min_epochs * n / max(batch_size, 1))
    steps = min(max_steps, max(min_steps, epochs, round(max_steps * (n / n_all) ** 0.5)))
    evals = max(1, round(max_steps / max(eval_every, 1)))
    return steps, max(1, -(-steps // evals))
