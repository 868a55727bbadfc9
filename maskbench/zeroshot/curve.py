"""Zero-shot accuracy over one pretraining run's checkpoints, beside its validation loss: when does a capability
appear (Chen et al. 2023: the loss leaving its plateau and the onset of syntax are one event)? The random-weight
twin is scored once (every checkpoint shares its shape and tokenizer)."""

from __future__ import annotations

from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.zeroshot.pairs import Pair


def parse_checkpoints(text: str):
    """--checkpoints: `all`, or distinct steps `N,M,...` (a list of ints, sorted)."""
    value = str(text).strip()
    if value == "all":
        return "all"
    parts = [p.strip() for p in value.split(",")]
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses, and int() takes Arabic-Indic digits
    if not value or not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        raise MaskbenchError(f"--checkpoints {text}: give all, or kept pretraining steps separated by commas, "
                             f"e.g. --checkpoints 500,1000,2500")
    steps = [int(p) for p in parts]
    repeated = sorted({s for s in steps if steps.count(s) > 1})
    if repeated:
        raise MaskbenchError(f"--checkpoints {text} repeats {', '.join(map(str, repeated))}: list each step once")
    return sorted(steps)


def checkpoint_curve(run_dir: Path, points: list[tuple[int | None, Path]], pairs: list[Pair], method: str,
                     per_token: bool, seed: int, label: str, plateau_exit: dict | None = None, progress=None) -> dict:
    """Accuracy at each (step, checkpoint folder) of `points`, with the run's validation-loss curve, its plateaus,
    FLOPs where its summary records them, and `plateau_exit` (the first evaluation past the one-neighbour bigram)."""
    from maskbench.report.budget import pretraining_progress
    from maskbench.report.plateaus import find_plateaus
    from maskbench.zeroshot.evaluate import score_source
    from maskbench.zeroshot.model import open_source

    known = pretraining_progress(run_dir)
    val_loss = sorted((s, p["val_loss"]) for s, p in known.items() if p.get("val_loss") is not None)
    rows, rnd, first = [], None, None
    for step, folder in points:
        result, pre, twin = score_source(open_source(folder), pairs, method, per_token, seed,
                                         random=rnd if rnd is not None else True, progress=progress)
        if rnd is None:
            rnd, first = twin, result
        info = known.get(step, {})
        o = result["overall"]
        rows.append({"step": step, "checkpoint": result["checkpoint"], "tokens": info.get("tokens"),
                     "flops": info.get("flops"), "val_loss": info.get("val_loss"),
                     "accuracy": o["pretrained"]["accuracy"], "ci": o["pretrained"]["ci"],
                     "ties": o["pretrained"]["ties"], "gap": o.get("gap"),
                     "groups": {g["group"]: g["pretrained"]["accuracy"] for g in result["groups"]},
                     "seconds": result["seconds"]["pretrained"]})
    flops = [r["flops"] / r["step"] for r in rows if r["flops"] and r["step"]]
    return {"run": str(run_dir), "label": label, "arch": first["arch"], "objective": first["objective"],
            "scored_by": first["scored_by"], "method": method, "method_text": first["method_text"],
            "per_token": per_token, "note": first["note"], "random_seed": seed, "pairs": first["overall"]["pairs"],
            "random": {**first["overall"]["random"], "groups": {g["group"]: g["random"]["accuracy"]
                                                                 for g in first["groups"]}},
            "points": rows, "val_loss": [list(v) for v in val_loss], "plateaus": find_plateaus(val_loss),
            "plateau_exit": plateau_exit, "flops_per_step": flops[0] if flops else None}
