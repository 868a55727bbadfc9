"""sweep.launcher=local runs grid points as parallel processes through submitit; a re-run does only what is
missing; the Slurm launcher's submission script carries the sweep.slurm options."""

from __future__ import annotations

import json
import os
import shutil

import pytest

pytest.importorskip("submitit")

from maskbench.config import load_config  # noqa: E402
from maskbench.train.sweep import run_sweep  # noqa: E402

GRID = ["corruption=bart_infill,mass_span", "seed=1,2", "arch=encoder_decoder"]


def _runs(root):
    return sorted((root / "pretrain").iterdir())


def test_local_launcher_runs_points_in_parallel_processes_and_resumes(tiny_overrides, tmp_path):
    root = tmp_path / "s"
    over = tiny_overrides + GRID + [f"sweep.dir={root}", "sweep.launcher=local", "sweep.jobs=2", "train.max_steps=40"]
    run_sweep(over)
    runs = _runs(root)
    assert len(runs) == 4 and all((r / "summary.json").exists() for r in runs)
    pids = {json.loads((r / "env.json").read_text())["pid"] for r in runs}
    assert len(pids) == 4 and os.getpid() not in pids  # each in its own process
    # Two jobs at a time: each job's life, from its submission to its result (submitit's files in the job's
    # log folder), overlaps another's. (The runs' own files, written after start-up, proved too tight a
    # window for a loaded CI machine: a 40-step run lasts about a second, start-up several.)
    spans = sorted((next((root / "jobs" / r.name).glob("*_submitted.pkl")).stat().st_mtime,
                    next((root / "jobs" / r.name).glob("*_result.pkl")).stat().st_mtime) for r in runs)
    assert any(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1))  # two ran at the same time
    assert (root / "jobs" / runs[0].name).is_dir()  # logs per job
    assert (root / "report" / "report.md").exists()
    # A job killed mid-run: its run is left partial; the same command redoes only that one.
    victim = runs[1]
    shutil.rmtree(victim / "checkpoints" / "final")
    (victim / "summary.json").unlink()
    stamps = {r: (r / "summary.json").stat().st_mtime_ns for r in runs if r != victim}
    run_sweep(over)
    assert (victim / "summary.json").exists()
    assert {r: (r / "summary.json").stat().st_mtime_ns for r in runs if r != victim} == stamps


def test_slurm_submission_script_has_the_options(tiny_overrides, tmp_path, monkeypatch):
    from maskbench.train.launch import slurm_script

    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("srun", "sbatch", "squeue", "sacct"):
        (fake / tool).write_text("#!/bin/sh\nexit 0\n")
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    cfg = load_config(tiny_overrides + ["sweep.launcher=slurm", "sweep.jobs=3", "sweep.slurm.partition=gpu",
                                        "sweep.slurm.time_min=90", "sweep.slurm.gpus=1", "sweep.slurm.mem=32G"])
    script = slurm_script(cfg, tmp_path / "sweep")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --gpus-per-node=1", "#SBATCH --mem=32G",
                 "#SBATCH --signal=USR2@"):
        assert line in script, script
    assert str(tmp_path / "sweep" / "jobs") in script


def test_launcher_errors_are_one_line(tiny_overrides):
    from maskbench.errors import MaskbenchError

    with pytest.raises(MaskbenchError, match="sweep.launcher=cloud is unknown"):
        load_config(tiny_overrides + ["sweep.launcher=cloud"])
    with pytest.raises(MaskbenchError, match="sweep.jobs=0"):
        load_config(tiny_overrides + ["sweep.jobs=0"])


def _processes_mentioning(text: str) -> list[int]:
    from pathlib import Path

    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if text in (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def _train_steps(run_dir) -> int:
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return 0
    return max([json.loads(x).get("step", 0) for x in lines if '"train"' in x] or [0])


@pytest.mark.parametrize("how", ["sigterm", pytest.param("ctrl-c", marks=pytest.mark.slow)])  # ctrl-c under slow for CI time
def test_sigterm_to_a_local_sweep_stops_its_jobs_and_the_rerun_finishes(tiny_overrides, tmp_path, how):
    """SIGTERM to the sweep, or Ctrl-C at its terminal (SIGINT to the whole process group): within seconds no
    process of it is left, no traceback; the same command then finishes exactly."""
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "s"
    over = tiny_overrides + ["corruption=bart_infill", "seed=1,2", "arch=encoder_decoder", f"sweep.dir={root}",
                             "sweep.launcher=local", "sweep.jobs=2", "train.max_steps=800", "train.ckpt_every=100",
                             "train.eval_every=500"]
    cmd = [sys.executable, "-m", "maskbench", "sweep", *over]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # both jobs training
        runs = list((root / "pretrain").glob("*")) if (root / "pretrain").is_dir() else []
        if len(runs) == 2 and all(_train_steps(r) >= 20 for r in runs):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the jobs did not start: {proc.communicate()[1][-2000:]}")
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "sweep interrupted: 2 running job(s) stopped" in err and "Traceback" not in err, err
    time.sleep(1)
    assert _processes_mentioning(str(root)) == []  # no wrapper or training process of the sweep left
    assert all(not (r / "summary.json").exists() for r in runs)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    for r in runs:
        steps = [json.loads(x)["step"] for x in (r / "metrics.jsonl").read_text().splitlines() if '"train"' in x]
        assert steps == sorted(set(steps)) and steps[-1] == 800  # resumed: no step twice, none missing at the end
