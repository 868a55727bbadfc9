"""Packed blocks over the memory-mapped token cache.

A block is `content_len` consecutive tokens of the token stream (no padding), read straight from the
memory map; the sentence and document boundaries inside it travel with it, so sentence permutation
and NSP can use real boundaries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maskbench.data.encode_pool import DOC_START, SENT_START
from maskbench.errors import MaskbenchError


@dataclass
class Blocks:
    """A batch of original text blocks (no specials)."""

    tokens: torch.Tensor      # [B, C] int64
    sent_start: torch.Tensor  # [B, C] bool: a sentence starts at this position
    doc_id: torch.Tensor      # [B, C] int64: document of each token (global index)

    def to(self, device) -> "Blocks":
        return Blocks(self.tokens.to(device), self.sent_start.to(device), self.doc_id.to(device))


class BlockStore:
    """Random access to the packed blocks of one split of a token cache."""

    def __init__(self, folder: Path, split: str, content_len: int):
        meta = json.loads((folder / "meta.json").read_text())
        n = meta[f"{split}_tokens"]
        self.content_len = content_len
        self.n_blocks = n // content_len
        if self.n_blocks < 1:
            raise MaskbenchError(
                f"the {split} split has {n} tokens, fewer than one block of {content_len}: "
                f"add text or lower data.seq_len")
        self.tokens = np.memmap(folder / f"{split}.tokens.bin", dtype=meta["dtype"], mode="r", shape=(n,))
        self.flags = np.memmap(folder / f"{split}.flags.bin", dtype=np.uint8, mode="r", shape=(n,))
        # Document start offsets are few (one per document): kept in RAM for searchsorted.
        self.doc_starts = np.flatnonzero(np.asarray(self.flags) & DOC_START)

    def __len__(self) -> int:
        return self.n_blocks

    def get(self, indices) -> Blocks:
        idx = np.asarray(indices, dtype=np.int64)
        pos = idx[:, None] * self.content_len + np.arange(self.content_len)[None, :]
        toks = torch.from_numpy(self.tokens[pos].astype(np.int64))
        flags = self.flags[pos]
        sent = torch.from_numpy((flags & (SENT_START | DOC_START)) != 0)
        sent[:, 0] = True  # a block's first token opens a (possibly partial) sentence
        doc = torch.from_numpy(np.searchsorted(self.doc_starts, pos, side="right") - 1)
        return Blocks(toks, sent, doc)
