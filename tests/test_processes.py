"""compare.jobs=N owns its workers: SIGTERM or SIGINT to the compare (alone, or the whole process group as a
terminal's Ctrl-C) stops every worker with its checkpoint, starts no queued fine-tuning, prints one line, and
leaves no process running (the process table is read afterwards)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

from maskbench.config import load_config  # noqa: E402


@pytest.fixture(scope="module")
def compare_command(tiny_overrides, tmp_path_factory):
    """A compare of four long fine-tunings (2 seeds x pretrained/scratch), two at a time."""
    from maskbench.train.pretrain import run_pretrain

    root = tmp_path_factory.mktemp("jobs")
    pre = run_pretrain(load_config(tiny_overrides + [f"run.dir={root / 'pre'}", "train.max_steps=2"]))
    sst = root / "sst.tsv"
    sst.write_text("sentence\tlabel\n" + "".join(f"the river film {i}\t{i % 2}\n" for i in range(20)))
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    over = common + ["task=sst2", "model=tiny", f"task.train_file={sst}", f"task.eval_file={sst}", f"compare.init={pre}",
                     "compare.seeds=[0,1]", "compare.jobs=2", "train.max_steps=1000000", "train.eval_every=1000000",
                     "train.ckpt_every=1000000", "train.batch_size=2"]
    return [sys.executable, "-m", "maskbench", "compare", *over]


def _start(command, out: Path):
    return subprocess.Popen([*command, f"run.dir={out}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group, as a shell job: killpg is the terminal's Ctrl-C


def _training(out: Path) -> list[Path]:
    """The fine-tunings that have logged a training step."""
    return [p.parent for p in out.glob("*/metrics.jsonl") if '"split": "train"' in p.read_text()]


def _wait_for_two_training(proc, out: Path, timeout: float = 240) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline and len(_training(out)) < 2:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    assert len(_training(out)) == 2, "the two workers never started training"
    return psutil.Process(proc.pid).children(recursive=True)


def _left_running(processes) -> list:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("how", ["sigterm", "sigint_alone", "ctrl_c"])
def test_a_stopped_compare_leaves_no_process_and_starts_nothing_queued(compare_command, tmp_path, how):
    out = tmp_path / "cmp"
    proc = _start(compare_command, out)
    try:
        workers = _wait_for_two_training(proc, out)
        assert len([w for w in workers if "maskbench" in " ".join(w.cmdline()) or "multiprocessing" in
                    " ".join(w.cmdline())]) >= 2
        if how == "sigterm":
            os.kill(proc.pid, signal.SIGTERM)
        elif how == "sigint_alone":
            os.kill(proc.pid, signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "compare stopped by SIG" in lines[0] and "Traceback" not in err, err
    assert "2 did not start" in lines[0]
    time.sleep(0.5)  # a worker is reaped by the compare before it exits; nothing may remain
    assert _left_running(workers) == []
    started = sorted(p.name for p in out.iterdir() if p.is_dir() and any(p.iterdir()))
    assert len(started) == 2, started  # the two queued fine-tunings never started
    for run in started:  # each stopped one saved its checkpoint, to be continued
        assert list((out / run / "checkpoints").glob("step-*")), run
