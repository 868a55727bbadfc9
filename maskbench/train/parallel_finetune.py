"""A compare's fine-tunings side by side (`compare.jobs=N`): N processes, each with its share of the cores.

A small model does not keep two threads busy (a 2-layer, 128-wide encoder: two 1-thread fine-tunings finish
1.24x sooner than the same two one after the other with 2 threads each, docs/results.md), so on few cores
running the grid's independent fine-tunings at once is faster. Each job is the same run as in sequence (the
same config, seed and data order; metrics do not depend on the thread count on this CPU, docs/reproducibility.md),
in a fresh process (spawn: nothing of the parent's state is shared), its run folder its own.

The compare owns its workers: each runs in its own process group (a terminal's Ctrl-C reaches the compare
alone) and stops when the compare dies. Ctrl-C or SIGTERM to the compare passes one SIGTERM to each running
worker (it saves a checkpoint and ends), starts no queued fine-tuning, and waits for them all: no process is
left behind, and the same command run again finishes only what is missing.
"""

from __future__ import annotations

from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.config.schema import FinetuneConfig
from maskbench.train.loop import StopRequest


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


def _job(cfg_container: dict, spec: tuple, run_dir: str, command: str, conn) -> None:
    """One fine-tuning in a worker process; its outcome goes back through `conn`: ("done",), ("stopped", line),
    ("error", line) for a MaskbenchError, or ("crash", type, line, traceback) for anything else."""
    import traceback

    _follow_parent()
    from maskbench.config import validate_config
    from maskbench.errors import MaskbenchError, RunInterrupted, safe_reason
    from maskbench.train.finetune import run_finetune

    try:
        cfg = validate_config(cfg_container)
        run_finetune(cfg, command=command, backbone=_backbone(spec, cfg), run_dir=Path(run_dir), continue_existing=True)
        conn.send(("done",))
    except RunInterrupted as exc:
        conn.send(("stopped", str(exc)))
    except MaskbenchError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # a bug: the parent reports it as one, with this traceback in the crash file
        conn.send(("crash", type(exc).__name__, safe_reason(exc), traceback.format_exc()))
    finally:
        conn.close()


def _follow_parent() -> None:
    """A worker in its own process group, so that a terminal's Ctrl-C reaches the compare alone, which stops its
    workers once and in order; and told by the kernel (Linux) to stop when the compare dies however it dies."""
    import ctypes
    import os
    import signal

    os.setpgrp()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the compare died before the line above: nobody would stop this worker
        os._exit(1)


def _start(ctx, target, args):
    """A worker process that starts with SIGINT ignored (until its training loop handles it): a Ctrl-C during
    its start-up must not end it with a traceback."""
    import signal

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = ctx.Process(target=target, args=args, daemon=False)
        proc.start()
    finally:
        signal.signal(signal.SIGINT, old)
    return proc


def run_side_by_side(jobs: list[tuple], n_jobs: int, command: str, say) -> None:
    """`jobs`: (cfg, backbone spec, run dir) each; at most `n_jobs` at once, each with cores // n_jobs threads.
    A worker starts only while nothing asked to stop: a failed job, Ctrl-C or SIGTERM stops the running ones
    (each saves its checkpoint; they are waited for, so no process outlives the compare) and starts no more."""
    import multiprocessing
    import os
    import signal
    from multiprocessing.connection import wait as wait_for

    from maskbench.config import as_dict, with_changes
    from maskbench.cores import usable_cores

    threads = max(1, usable_cores() // n_jobs)
    ctx = multiprocessing.get_context("spawn")  # a fresh process: nothing of the parent's state is shared
    queue = [(as_dict(with_changes(cfg, runtime={"threads": threads})), spec, str(run_dir)) for cfg, spec, run_dir
             in jobs]
    running: dict = {}   # process -> (run dir, the end of its pipe)
    failure, done, stopped_at = None, 0, 0
    with StopRequest(second_stops=False) as stop:  # each signal to the compare is passed on
        while running or (queue and failure is None and stop.signal_name is None):
            while queue and len(running) < n_jobs and failure is None and stop.signal_name is None:
                cfg, spec, run_dir = queue.pop(0)
                mine, theirs = ctx.Pipe(duplex=False)
                proc = _start(ctx, _job, (cfg, spec, run_dir, command, theirs))
                theirs.close()
                running[proc] = (run_dir, mine)
            if (failure is not None or stop.signal_name) and stopped_at < max(stop.count, 1):
                stopped_at = max(stop.count, 1)  # each signal to the compare is passed on once (a second: at once)
                for proc in running:
                    if proc.exitcode is None:
                        os.kill(proc.pid, signal.SIGTERM)
            if running:
                wait_for([p.sentinel for p in running], timeout=0.5)  # a worker ended, or half a second passed
            for proc in [p for p in running if not p.is_alive()]:
                proc.join()
                run_dir, conn = running.pop(proc)
                outcome = conn.recv() if conn.poll() else ("error", f"its process ended with exit code {proc.exitcode}")
                conn.close()
                if outcome[0] == "done":
                    done += 1
                    say(f"[dim]compare run {done}/{len(jobs)} done: {Path(run_dir).name}[/]")
                elif outcome[0] in ("error", "crash") and failure is None and not stop.signal_name:
                    failure = (run_dir, outcome)
    if failure is not None:
        run_dir, outcome = failure
        if outcome[0] == "crash":
            raise WorkerCrash(Path(run_dir).name, *outcome[1:])
        raise MaskbenchError(f"{Path(run_dir).name}: {outcome[1]}")
    if stop.signal_name:
        left = len(queue)
        raise MaskbenchError(f"compare stopped by {stop.signal_name}: the running fine-tunings saved checkpoints"
                             f"{f' and {left} did not start' if left else ''}; run the same command again to finish "
                             f"only what is missing")


class WorkerCrash(RuntimeError):
    """An exception that is not a MaskbenchError in a compare worker (a bug): its traceback travels as text."""

    def __init__(self, run: str, type_name: str, line: str, traceback_text: str):
        super().__init__(f"{type_name} in {run}: {line}")
        self.traceback_text = traceback_text

    def __str__(self):
        return self.args[0] + "\n" + self.traceback_text
