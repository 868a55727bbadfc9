"""Checkpoints: `checkpoints/step-000200/` and `checkpoints/final/`, each self-describing.

A checkpoint folder holds model.safetensors (weights), trainer.pt (optimiser + RNG states),
state.json (step, tokens seen, wall time), config.yaml (resolved config) and tokenizer.json, so it
rebuilds its model alone; a fine-tuning's also holds task.json (`TASK_RECORD`: the task, its label names
and the backbone's shape), so the whole task model rebuilds alone (maskbench/runs/task_model.py). Written to a temporary folder and renamed: a kill never leaves a torn one.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from maskbench.errors import MaskbenchError, safe_reason
from maskbench.corruption.registry import pretraining_only_prefixes
from maskbench.files import sha256_file
from maskbench.runs.layout import CHECKPOINTS, CONFIG, STATE, TOKENIZER, checkpoint_folder, is_checkpoint

_STEP = re.compile(r"^step-(\d+)$")
_CHECKED = ("model.safetensors", "trainer.pt", CONFIG, TOKENIZER)


def damage(folder: Path) -> str | None:
    """Why a checkpoint folder cannot be trusted, or None if it is whole (checksums from state.json;
    checkpoints written before checksums existed get their files checked for presence and format)."""
    folder = Path(folder)
    try:
        state = json.loads((folder / STATE).read_text())
        int(state["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "state.json missing or unreadable"
    files = state.get("files")
    if isinstance(files, dict):
        for name, digest in files.items():
            if not (folder / name).is_file():
                return f"{name} missing"
            if sha256_file(folder / name) != digest:
                return f"{name} does not match its checksum"
        return None
    for name in ("model.safetensors", "trainer.pt"):
        if not (folder / name).is_file():
            return f"{name} missing"
    try:
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            for key in f.keys():
                f.get_slice(key)
    except Exception:
        return "model.safetensors unreadable"
    return None


def clean_leftovers(run_dir: Path) -> None:
    """Remove what interrupted checkpoint writes left (step-N.tmpPID/, NAME.old/); call holding the run lock."""
    root = Path(run_dir) / CHECKPOINTS
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and (".tmp" in p.name or p.name.endswith(".old")):
                shutil.rmtree(p, ignore_errors=True)


def usable_checkpoint(run_dir: Path, say=lambda msg: None) -> Path | None:
    """The newest whole checkpoint (final, then step-N newest first); a damaged one is passed over
    with one line saying so."""
    final = checkpoint_folder(run_dir)
    return _first_whole(([final] if final.is_dir() else []) + [p for _, p in reversed(_all_steps(run_dir))], say)


def latest_step_checkpoint(run_dir: Path, say=lambda msg: None) -> Path | None:
    """The newest whole step-N checkpoint (what an interrupted fine-tuning resumes from); damaged ones are
    passed over with one line."""
    return _first_whole([p for _, p in reversed(_all_steps(run_dir))], say)


def _first_whole(candidates: list[Path], say) -> Path | None:
    for c in candidates:
        why = damage(c)
        if why is None:
            return c
        say(f"checkpoint {c.name} is damaged ({why}): passing over it")
    return None


def _all_steps(run_dir: Path) -> list[tuple[int, Path]]:
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in root.iterdir() if (m := _STEP.match(p.name)) and p.is_dir())


@dataclass
class TrainState:
    step: int = 0
    tokens_seen: int = 0
    wall_s: float = 0.0


def _weights(model) -> dict:
    # Tied weights share storage: safetensors refuses shared tensors, so store each name once.
    seen, out = set(), {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.shape)
        if key in seen:
            continue
        seen.add(key)
        out[name] = t.detach().contiguous().cpu()
    return out


def save_checkpoint(folder: Path, model, optimizer, state: TrainState, config_yaml: str, tokenizer_json: Path,
                    extra: dict | None = None, files: dict[str, str] | None = None) -> Path:
    """`extra`: more fields of state.json; `files`: more text files (name -> content), checksummed like the rest."""
    from safetensors.torch import save_file

    folder = Path(folder)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        save_file(_weights(model), str(tmp / "model.safetensors"))
        trainer = {"rng_cpu": torch.get_rng_state()}
        if optimizer is not None:
            trainer["optimizer"] = optimizer.state_dict()
        if torch.cuda.is_available():
            trainer["rng_cuda"] = torch.cuda.get_rng_state_all()
        torch.save(trainer, tmp / "trainer.pt")
        (tmp / CONFIG).write_text(config_yaml)
        shutil.copy(tokenizer_json, tmp / TOKENIZER)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
        # state.json last, with the checksum of every file: a checkpoint proves itself whole on load.
        sums = {name: sha256_file(tmp / name) for name in (*_CHECKED, *(files or {}))}
        (tmp / STATE).write_text(json.dumps({**asdict(state), **(extra or {}), "files": sums}, indent=1))
    except Exception as exc:
        full = _disk_full(exc) or _nearly_full(tmp.parent)  # measured before our partial files are removed
        shutil.rmtree(tmp, ignore_errors=True)  # a torn checkpoint is never left to be mistaken for one
        if full:
            raise MaskbenchError(f"the disk is full: checkpoint {folder.name} of {folder.parent.parent} could not be "
                                 f"written and nothing of it was kept; the earlier checkpoints are intact: free space "
                                 f"(or move the run folder) and run the same command with train.resume=true") from None
        raise
    if folder.exists():  # replacing (e.g. final/ of a resumed run): move the old one aside first
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)
    return folder


def save_run_checkpoint(run_dir: Path, model, optimizer, state: TrainState, config_yaml: str, final: bool,
                        keep: int, extra: dict | None = None, files: dict[str, str] | None = None) -> Path:
    """The one way pretraining and fine-tuning save: RUN/checkpoints/step-N (then older ones pruned to `keep`)
    or RUN/checkpoints/final, with the run's tokenizer. `optimizer` None leaves the optimiser state out."""
    folder = save_checkpoint(checkpoint_folder(run_dir, None if final else state.step), model, optimizer, state,
                             config_yaml, Path(run_dir) / TOKENIZER, extra, files)
    if not final:
        prune_checkpoints(run_dir, keep)
    return folder


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC / EDQUOT, however the writer wrapped it (safetensors' SafetensorError and torch's
    inline_container RuntimeError carry only the text, and torch's often not even the cause)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc).lower()
        if any(s in text for s in ("no space left", "disk quota", "file write failed", "iostream error",
                                   "unexpected pos")):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _nearly_full(folder: Path, margin: int = 256 * 1024) -> bool:
    """A write that failed with the file system left with less than `margin` bytes free ran out of space."""
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def step_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of the step-N checkpoints that have a state.json, oldest first."""
    return [(n, p) for n, p in _all_steps(run_dir) if is_checkpoint(p)]


def step_folder(run_dir: Path, step: int) -> Path:
    """The kept checkpoint of `step` of a run (one line naming the kept steps if there is none)."""
    folder = checkpoint_folder(run_dir, step)
    if not (folder / "model.safetensors").is_file():
        kept = ", ".join(str(n) for n, _ in step_checkpoints(run_dir)) or "none"
        raise MaskbenchError(f"{run_dir} has no checkpoint of step {step}: its kept steps are {kept} "
                             f"(train.keep_checkpoints sets how many are kept)")
    return folder


def latest_checkpoint(run_dir: Path) -> Path | None:
    final = checkpoint_folder(run_dir)
    if is_checkpoint(final):
        return final
    steps = step_checkpoints(run_dir)
    return steps[-1][1] if steps else None


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for _, path in step_checkpoints(run_dir)[:-keep] if keep > 0 else step_checkpoints(run_dir):
        shutil.rmtree(path, ignore_errors=True)


def hold_checkpoint(choose, what: str) -> tuple[Path, Path] | None:
    """(the checkpoint folder `choose()` names, a private consistent copy of it), or None when it names none.

    A run that is still training prunes its older step-N folders and replaces final/ while another command
    reads them; the copy (hard links where the file system allows, else copies, in a temporary folder removed
    when the process ends) is taken and checked against its checksums, and taken again from a new choice if
    the folder changed meanwhile. `what`: the command, for the refusal."""
    for _ in range(5):
        ckpt = choose()
        if ckpt is None:
            return None
        held = _snapshot(Path(ckpt))
        if held is not None:
            return Path(ckpt), held
    raise MaskbenchError(f"{what}: the checkpoints of {Path(ckpt).parent.parent} kept changing while being read (a "
                         f"run is writing them): try again, or give one of its kept checkpoints (--step)")


def _snapshot(ckpt: Path) -> Path | None:
    import atexit
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="maskbench-held-"))
    atexit.register(shutil.rmtree, root, True)
    # The run's own layout (RUN/checkpoints/NAME), so names read from the path (the run's name) stay true.
    dest = root / ckpt.parent.parent.name / CHECKPOINTS / ckpt.name
    dest.mkdir(parents=True)
    try:
        for f in sorted(ckpt.iterdir()):
            if f.is_file():
                try:
                    os.link(f, dest / f.name)  # the data stays while linked, whatever the run deletes
                except OSError as exc:
                    if isinstance(exc, FileNotFoundError):
                        raise
                    shutil.copy2(f, dest / f.name)
    except FileNotFoundError:  # pruned or replaced while being read
        shutil.rmtree(root, ignore_errors=True)
        return None
    if is_checkpoint(dest) and damage(dest) is not None and damage(ckpt) is None:
        shutil.rmtree(root, ignore_errors=True)  # files of two versions (final/ replaced meanwhile)
        return None
    return dest  # (a folder damaged at its source is left for the caller's own check to name)


def load_weights(model, folder: Path, prefix: str = "", shown: Path | None = None) -> None:
    """Load model.safetensors into `model`; a checkpoint from another model is a one-line error.
    `prefix`: take only the weights under it (a fine-tuned task model's `backbone.`), without it. `shown`: the
    folder the refusals name (the user's checkpoint, where `folder` is its private held copy)."""
    from safetensors.torch import load_file

    path = Path(folder) / "model.safetensors"
    folder = shown if shown is not None else folder
    if not path.exists():
        raise MaskbenchError(f"{folder} is not a maskbench checkpoint (no model.safetensors): "
                             f"point at a run folder or checkpoints/<name>/")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors' own error type: a torn or foreign file
        raise MaskbenchError(f"{folder}/model.safetensors is unreadable ({safe_reason(exc, 100)}): use another of the "
                             f"run's checkpoints, or train it again") from None
    if prefix:
        tensors = {n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)}
    own = model.state_dict()
    # An objective's pretraining model may keep more than the backbone (ELECTRA: its generator and replaced-token
    # head); a plain encoder (fine-tuning, probes, compare) takes the rest.
    tensors = {n: t for n, t in tensors.items() if n in own or not n.startswith(pretraining_only_prefixes())}
    for name, t in tensors.items():
        if name not in own:
            raise MaskbenchError(f"checkpoint {folder} has weight '{name}' that this model lacks: "
                                 f"it was trained with another architecture; use its own config")
        if own[name].shape != t.shape:
            raise MaskbenchError(f"checkpoint {folder} weight '{name}' has shape {tuple(t.shape)}, this model "
                                 f"expects {tuple(own[name].shape)}: use the checkpoint's own model size")
    missing = model.load_state_dict(tensors, strict=False).missing_keys
    # Tied weights were stored once; anything else missing is a real mismatch.
    tied = {n for n, t in own.items() if n not in tensors}
    real = [k for k in missing if k not in tied or not _is_tied(model, k)]
    if real:
        raise MaskbenchError(f"checkpoint {folder} lacks weights {real[:3]}: it is from another model")


def _is_tied(model, name: str) -> bool:
    ptrs = {}
    for n, t in model.state_dict().items():
        ptrs.setdefault((t.data_ptr(), t.shape), []).append(n)
    return any(name in names and len(names) > 1 for names in ptrs.values())


def load_trainer(folder: Path, optimizer) -> TrainState:
    # weights_only: a run folder may come from anyone; a pickle in trainer.pt must never run code.
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of a refused file
            warnings.simplefilter("ignore")
            trainer = torch.load(Path(folder) / "trainer.pt", weights_only=True)
    except pickle.UnpicklingError as e:
        raise MaskbenchError(f"{folder}/trainer.pt holds objects other than tensors and plain data "
                             f"(refused, nothing from it was run): resume only from a checkpoint you trust, "
                             f"or delete that checkpoint folder") from e
    if optimizer is not None and "optimizer" in trainer:
        optimizer.load_state_dict(trainer["optimizer"])
    torch.set_rng_state(trainer["rng_cpu"])
    if "rng_cuda" in trainer and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(trainer["rng_cuda"])
    state = json.loads((Path(folder) / STATE).read_text())
    return TrainState(step=state["step"], tokens_seen=state["tokens_seen"], wall_s=state["wall_s"])
