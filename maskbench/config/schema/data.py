"""Schema of the `data` group: the pretraining corpus, its tokenizer and its blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option

# Infilling can add a few [MASK]s for 0-length spans: positions beyond seq_len are kept for them.
INFILL_ROOM = 16


@dataclass(frozen=True)
class DataConfig:
    name: str = "custom"
    paths: List[str] = option(factory=list)
    text_column: str = "text"
    vocab_size: int = option(8192, low=1)
    lowercase: bool = True
    n_sentinels: int = option(100, low=0)
    seq_len: int = option(128, low=8, hint="too small: blocks need room for text and two special tokens")
    val_fraction: float = option(0.05, low=0.0, below=1.0,
                                 hint="a share of the documents; 1 leaves nothing to train on")
    val_blocks: int = option(64, low=1, hint="validation needs blocks")
    tokenizer_sample_mb: Any = option(32, number=True, above=0.0, hint="megabytes, or null for all")
    tokenizer_file: Optional[str] = None
    prepare_workers: Optional[int] = option(None, low=1, hint="or null: one per core for large corpora")
    doc_split: str = option("auto", choices=("auto", "wikitext", "blank_lines", "file"))
    cache_dir: Optional[str] = None

    @property
    def content_len(self) -> int:
        """Text tokens per block: seq_len minus the two special tokens around it."""
        return self.seq_len - 2

    def check(self) -> None:
        if self.vocab_size < 128 + self.n_sentinels:
            raise MaskbenchError(f"data.vocab_size={self.vocab_size} is too small: "
                                 f"use at least {128 + self.n_sentinels}")
