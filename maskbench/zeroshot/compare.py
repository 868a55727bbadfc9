"""`compare.zero_shot=PAIRS`: the pretrained model's zero-shot accuracy at each compared checkpoint, and its random
twin's, for compare's summary and figures. Kept in the compare folder (zero_shot.json) and reused while the pairs
files and the checkpoints are the ones it was computed from: a compare run again does only what is missing."""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.files import write_atomic
from maskbench.zeroshot.evaluate import GAP_INTERVAL, INTERVAL, score_source
from maskbench.zeroshot.pairs import pair_files, read_pairs

CACHE = "zero_shot.json"
WHAT = "compare.zero_shot="


def check_pairs(path: str) -> None:
    """Read the pairs once before any training: a bad file is one line now, not after the fine-tunings."""
    read_pairs([path], WHAT)


def check_pairs_fit(path: str, src, method: str = "pll") -> None:
    """The pairs against the pretrained model `src` (a ModelSource), before any fine-tuning: a sentence longer than
    the model reads, or a model that cannot be asked (a T5 vocabulary without sentinels), was refused only after
    every fine-tuning had run. Tokenizer and config only; no weights are read."""
    from maskbench.arch import arch_of
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.models.shape import ModelShape
    from maskbench.zeroshot.evaluate import encode_pairs
    from maskbench.zeroshot.inputs import inputs_for
    from maskbench.zeroshot.model import corruption_of

    tok = load_tokenizer(src.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    inputs = inputs_for(arch_of(src.arch), corruption_of(src), src.objective, vocab, method)
    max_tokens = ModelShape.from_cfg(src.model_cfg).max_positions - 2 - len(inputs.prefix)
    encode_pairs(read_pairs([path], WHAT), tok, max_tokens)


def compare_zero_shot(path: str, sources: dict, out: Path, seed: int = 0, method: str = "pll") -> dict:
    """{"points": [per checkpoint step: accuracy, interval, ties, gap to random], "pretrained"/"random"/"gap": the
    last checkpoint's, ...}. `sources`: pretraining step (None for a folder without one) -> ModelSource."""
    files = pair_files([path], WHAT)
    key = {"files": [[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files],
           "checkpoints": [str(sources[s].source) for s in sources], "method": method, "seed": seed}
    cached = _cached(out / CACHE, key)
    if cached is not None:
        return cached
    pairs = read_pairs(files, WHAT)
    points, rnd, first = [], True, None
    for step, src in sorted(sources.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        result, _, twin = score_source(src, pairs, method, False, seed, random=rnd)
        rnd, first = twin, first or result
        o = result["overall"]
        points.append({"step": step, "checkpoint": result["checkpoint"], **o["pretrained"], "gap": o["gap"],
                       "identical": o["identical"]})
    last = points[-1]
    summary = {"pairs_files": [str(f) for f in files], "pairs": first["overall"]["pairs"],
               "groups": first["overall"]["groups"], "method": method, "method_text": first["method_text"],
               "scored_by": first["scored_by"], "interval": INTERVAL, "gap_interval": GAP_INTERVAL,
               "ties": "counted as wrong", "random_seed": seed,
               "pretrained": {k: last[k] for k in ("accuracy", "ci", "correct", "ties")},
               "random": first["overall"]["random"], "gap": last["gap"], "points": points}
    write_atomic(out / CACHE, json.dumps({"key": key, "summary": summary}, indent=1))
    return summary


def _cached(path: Path, key: dict) -> dict | None:
    try:
        held = json.loads(path.read_text())
        return held["summary"] if held.get("key") == json.loads(json.dumps(key)) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
