"""Task features -> `Batch`es: padding, segments, the kind's labels, and a seeded per-epoch order."""

from __future__ import annotations

import torch

from maskbench.batch import Batch
from maskbench.tasks.base import TaskKind
from maskbench.arch import arch_of


def collate(features, kind: TaskKind, arch: str, pad: int) -> Batch:
    B = len(features)
    S = max(len(f.ids) for f in features)
    ids = torch.full((B, S), pad, dtype=torch.long)
    types = torch.zeros((B, S), dtype=torch.long)
    for i, f in enumerate(features):
        ids[i, :len(f.ids)] = torch.tensor(f.ids)
        types[i, :len(f.types)] = torch.tensor(f.types)
    lengths = torch.tensor([len(f.ids) for f in features])
    pad_mask = torch.arange(S)[None, :] >= lengths[:, None]
    # The encoder-decoder reads the same sequence in its decoder (BART's fine-tuning recipe).
    return Batch(input_ids=ids, labels=kind.collate_labels(features, S),
                 pad_mask=pad_mask if bool(pad_mask.any()) else None,
                 token_type_ids=types if arch_of(arch).segments else None,
                 decoder_input_ids=ids if arch_of(arch).has_decoder else None)


class FinetuneBatches:
    """Step s -> a batch of training features, from a per-epoch permutation seeded by (seed, epoch)."""

    def __init__(self, features, batch_size: int, seed: int, kind: TaskKind, arch: str, pad: int):
        self.features, self.batch_size, self.seed = features, batch_size, seed
        self.kind, self.arch, self.pad = kind, arch, pad
        self.steps_per_epoch = max(1, len(features) // batch_size)
        self._epoch, self._perm = None, None

    def batch(self, step: int):
        epoch, j = divmod(step, self.steps_per_epoch)
        if self._epoch != epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch + 17) & 0x7FFFFFFF)
            self._perm, self._epoch = torch.randperm(len(self.features), generator=g), epoch
        idx = self._perm[j * self.batch_size:(j + 1) * self.batch_size].tolist()
        b = collate([self.features[i] for i in idx], self.kind, self.arch, self.pad)
        return b, int(sum(len(self.features[i].ids) for i in idx))
