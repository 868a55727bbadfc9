"""Where maskbench keeps what it derives once (token caches, builtin datasets, imported tokenizers)."""

from __future__ import annotations

import os
from pathlib import Path

from maskbench import crash


def cache_root(cfg_dir: str | None = None) -> Path:
    """data.cache_dir, else $MASKBENCH_CACHE, else ~/.cache/maskbench (created)."""
    root = cfg_dir or os.environ.get("MASKBENCH_CACHE") or "~/.cache/maskbench"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    crash.note_cache(path)  # where a crash report goes outside any run
    return path
