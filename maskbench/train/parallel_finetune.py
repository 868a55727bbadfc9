"""A compare's fine-tunings side by side (`compare.jobs=N`): N processes, each with its share of the cores.

A small model does not keep two threads busy (a 2-layer, 128-wide encoder: two 1-thread fine-tunings finish
1.24x sooner than the same two one after the other with 2 threads each, docs/results.md), so on few cores
running the grid's independent fine-tunings at once is faster. Each job is the same run as in sequence (the
same config, seed and data order; metrics do not depend on the thread count on this CPU, docs/reproducibility.md),
in a fresh process (spawn: nothing of the parent's state is shared), its run folder its own.
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.schema import FinetuneConfig


def backbone_spec(source) -> tuple:
    """A picklable description of a models.source.ModelSource (its loader is a closure)."""
    if source.pretrained:
        return ("init", source.source)
    return ("scratch", source.model_dict(), source.arch, str(source.tokenizer_path))


def _backbone(spec, cfg: FinetuneConfig):
    from omegaconf import OmegaConf

    from maskbench.config import with_changes
    from maskbench.runs.source import ModelSource
    from maskbench.train.finetune import resolve_init

    if spec[0] == "init":
        return resolve_init(with_changes(cfg, init=spec[1]))
    return ModelSource.scratch(OmegaConf.create(spec[1]), spec[2], Path(spec[3]))


def _job(cfg_container: dict, spec: tuple, run_dir: str, command: str) -> str:
    """One fine-tuning in a worker process."""
    from maskbench.config import validate_config
    from maskbench.train.finetune import run_finetune

    cfg = validate_config(cfg_container)
    run_finetune(cfg, command=command, backbone=_backbone(spec, cfg), run_dir=Path(run_dir), continue_existing=True)
    return run_dir


def run_side_by_side(jobs: list[tuple], n_jobs: int, command: str, say) -> None:
    """`jobs`: (cfg, backbone spec, run dir) each; at most `n_jobs` at once, each with cores // n_jobs threads.
    A failed job stops the others and is one line; Ctrl-C stops them all (each leaves its checkpoint)."""
    import multiprocessing

    from maskbench.config import as_dict, with_changes
    from maskbench.cores import usable_cores

    threads = max(1, usable_cores() // n_jobs)
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_job, as_dict(with_changes(cfg, runtime={"threads": threads})), spec, str(run_dir),
                               command): run_dir
                   for cfg, spec, run_dir in jobs}
        try:
            done_count = 0
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        for other in pending:
                            other.cancel()
                        exc = f.exception()
                        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                        raise MaskbenchError(f"{Path(futures[f]).name}: {first}") from None
                    done_count += 1
                    say(f"[dim]compare run {done_count}/{len(futures)} done: {Path(futures[f]).name}[/]")
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # the workers got the same Ctrl-C: they checkpoint
            raise MaskbenchError("compare interrupted: the running fine-tunings left checkpoints; run the same "
                                 "command again to finish only what is missing") from None
