"""Sweep grid points as jobs on an existing engine (submitit): `sweep.launcher=local|slurm`.

Each grid point (its pretraining, then its fine-tunings: they wait for it by running in the same job)
is one job. `local` runs up to `sweep.jobs` jobs at once as processes on this machine, one GPU each
where GPUs exist (CUDA_VISIBLE_DEVICES per job); `slurm` submits a job array with at most `sweep.jobs`
running, with the `sweep.slurm.*` options. Job logs go to SWEEP/jobs/<run>/. Re-running the same sweep
command skips finished runs and resumes interrupted ones, as the sequential launcher does; on Slurm a
job that gets SIGUSR2/SIGTERM before its time limit checkpoints and is requeued (submitit's
Checkpointable), and its next start resumes from that checkpoint.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

from maskbench.errors import MaskbenchError
from maskbench.runs.rundir import RunDir, SweepDir
from maskbench.config.schema import PretrainConfig



def _submitit():
    from maskbench.optional import require

    return require("submitit", "sweep.launcher=local|slurm", "cluster")


class PointJob:
    """A picklable grid point; requeued as it is on preemption (the run resumes from its checkpoint)."""

    def __init__(self, point, root, overrides, runtime):
        self.args = (list(point), Path(root), list(overrides), list(runtime))

    def __call__(self) -> str:
        from maskbench.train.sweep_point import run_point

        return run_point(*self.args, console=_plain_console())

    def checkpoint(self, *args, **kwargs):
        submitit = _submitit()
        return submitit.helpers.DelayedSubmission(PointJob(*self.args))


def _plain_console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, force_terminal=False)


def local_executor(cfg: PretrainConfig, root: Path, name: str):
    """submitit's local executor for one grid point; its logs in SWEEP/jobs/<run>/."""
    ex = _submitit().LocalExecutor(folder=str(SweepDir(root).jobs(name)))
    ex.update_parameters(timeout_min=cfg.sweep.slurm.time_min)
    return ex


def slurm_executor(cfg: PretrainConfig, root: Path):
    """The Slurm executor of a sweep (job logs in SWEEP/jobs/<job id>/); needs `srun` on the PATH."""
    submitit = _submitit()
    try:
        ex = submitit.AutoExecutor(folder=str(SweepDir(root).jobs("%j")), cluster="slurm")
    except RuntimeError as exc:
        raise MaskbenchError(f"sweep.launcher=slurm: {exc} (use sweep.launcher=local on one machine)") from None
    ex.update_parameters(**slurm_parameters(cfg))
    return ex


def slurm_script(cfg: PretrainConfig, root: Path) -> str:
    """The sbatch script the Slurm launcher submits (for inspection and tests)."""
    return slurm_executor(cfg, root)._executor._make_submission_file_text("python -m submitit.core._submit", "0")


def slurm_parameters(cfg: PretrainConfig) -> dict:
    sl = cfg.sweep.slurm
    params = {"timeout_min": sl.time_min, "slurm_partition": sl.partition, "gpus_per_node": sl.gpus,
              "cpus_per_task": sl.cpus, "slurm_mem": sl.mem, "slurm_array_parallelism": cfg.sweep.jobs,
              "name": "maskbench"}
    if sl.account:
        params["slurm_account"] = sl.account
    return {k: v for k, v in params.items() if v is not None}


def launch_grid(grid, configs, root: Path, overrides, runtime, console, say) -> None:
    """Submit the grid points, at most sweep.jobs at a time; a live table of job states; fail if any job failed."""
    first = configs[0]
    jobs_at_once = max(1, int(first.sweep.jobs))
    names = [RunDir.for_pretraining(c).path.name for c in configs]
    if first.sweep.launcher == "slurm":
        ex = slurm_executor(first, root)
        with ex.batch():
            jobs = [ex.submit(PointJob(p, root, overrides, runtime)) for p in grid]
        say(f"submitted {len(jobs)} Slurm jobs (array, {jobs_at_once} at a time); logs in {SweepDir(root).jobs()}")
        _watch(jobs, names, console)
        return
    import torch

    n_gpus = torch.cuda.device_count()
    pending = list(zip(grid, configs, names))
    running: list[tuple] = []
    finished: list[tuple] = []
    gpus_free = list(range(n_gpus))
    from rich.live import Live

    try:
        with _stop_signals_as_interrupt(lambda: len(running)) as caught, \
                Live(_table(pending, running, finished), console=console, refresh_per_second=2, transient=False) as live:
            while pending or running:
                while pending and len(running) < jobs_at_once:
                    point, cfg, name = pending.pop(0)
                    ex = local_executor(cfg, root, name)
                    gpu = gpus_free.pop(0) if gpus_free else None
                    if gpu is not None:
                        ex.update_parameters(visible_gpus=(gpu,))
                    with _jobs_ignore_ctrl_c():
                        running.append((name, ex.submit(PointJob(point, root, overrides, runtime)), gpu))
                time.sleep(0.5)
                for item in list(running):
                    if item[1].done():
                        running.remove(item)
                        finished.append(item)
                        if item[2] is not None:
                            gpus_free.append(item[2])
                live.update(_table(pending, running, finished))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop the running jobs at a checkpoint, leave nothing behind
        stopped = stop_local_jobs([job for _, job, _ in running])
        raise _interrupted(max(stopped, caught[0] if caught else 0)) from None
    if caught:  # the signal came, but a library swallowed its KeyboardInterrupt while the jobs stopped themselves
        stop_local_jobs([job for _, job, _ in running])
        raise _interrupted(caught[0])
    failed = [(name, job) for name, job, _ in finished if job.exception() is not None]
    if failed:
        name, job = failed[0]
        first_line = str(job.exception()).strip().splitlines()[-1][:200]
        raise MaskbenchError(f"{len(failed)} sweep job(s) failed, e.g. {name}: {first_line} (log: {job.paths.stderr}); "
                             f"run the same command again to redo only what is missing")


def _interrupted(n_running: int) -> MaskbenchError:
    return MaskbenchError(f"sweep interrupted: {n_running} running job(s) stopped at a checkpoint; run the same "
                          f"command again to finish only what is missing")


@contextlib.contextmanager
def _stop_signals_as_interrupt(n_running):
    """SIGTERM or SIGINT to the sweep end it as Ctrl-C does (its jobs stopped, see launch_grid). The handler also
    records how many jobs were running when the first signal came: Ctrl-C reaches the jobs too (the whole
    process group), and if a library call swallowed the KeyboardInterrupt the sweep still reports an interrupt,
    not jobs that "failed"."""
    caught: list[int] = []

    def handler(signum, frame):
        if not caught:
            caught.append(n_running())
        raise KeyboardInterrupt

    try:
        old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread
        yield caught
        return
    try:
        yield caught
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def _jobs_ignore_ctrl_c():
    """Jobs started here inherit an ignored SIGINT: Ctrl-C at the terminal (sent to the whole process group)
    reaches the sweep, which stops each job by SIGTERM, instead of printing submitit's tracebacks. The
    training loop installs its own handler, so a job still stops cleanly at a checkpoint."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def stop_local_jobs(jobs, grace_s: float = 25.0) -> int:
    """SIGTERM each running job's submitit process (it forwards the signal to the training process, which
    checkpoints and exits); a second SIGTERM after `grace_s` stops at once; SIGKILL after 5 s more."""
    procs = [p for p in (getattr(j, "_process", None) for j in jobs) if p is not None and p.poll() is None]
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except OSError:
                    pass
        deadline = time.time() + wait_s
        while time.time() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.2)
        if all(p.poll() is not None for p in procs):
            break
    return len(procs)


def _table(pending, running, finished):
    from rich.table import Table

    t = Table(title="sweep jobs")
    t.add_column("run")
    t.add_column("state")
    t.add_column("job")
    for name, job, gpu in finished:
        ok = job.exception() is None
        t.add_row(name, "[green]done[/]" if ok else "[red]failed[/]", str(job.job_id))
    for name, job, gpu in running:
        t.add_row(name, "[yellow]running[/]" + (f" (GPU {gpu})" if gpu is not None else ""), str(job.job_id))
    for _, _, name in pending:
        t.add_row(name, "[dim]waiting[/]", "")
    return t


def _watch(jobs, names, console) -> None:
    """Slurm: show states until all jobs end."""
    from rich.live import Live
    from rich.table import Table

    def table():
        t = Table(title="sweep jobs (Slurm)")
        for col in ("run", "state", "job"):
            t.add_column(col)
        for name, job in zip(names, jobs):
            t.add_row(name, job.state, str(job.job_id))
        return t
    with Live(table(), console=console, refresh_per_second=0.2) as live:
        while not all(j.done() for j in jobs):
            time.sleep(10)
            live.update(table())
