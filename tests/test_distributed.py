"""torchrun data parallelism on CPU (gloo): 2 processes follow the 1-process loss curve, and resume."""

import json
import shutil
import subprocess
import sys

import pytest


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(make_cmd):
    """Run a torchrun command; once more if gloo itself failed at start-up. On a loaded 2-core CI machine a
    rank has aborted inside gloo's connection set-up (SIGABRT, in two CI runs under load; it passed every time alone); that is
    the transport, not maskbench. Any other failure, or a second one, still fails the test."""
    cmd = make_cmd()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0 and "gloo" in out.stderr.lower():
        retry = make_cmd()  # a fresh port
        retry += [] if "train.resume=true" in retry else ["train.resume=true"]  # continue what the start left
        out = subprocess.run(retry, capture_output=True, text=True)
    return out


def metrics(run):
    return [(e["step"], e["split"], e["loss"]) for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_two_processes_match_one(tiny_overrides, tmp_path):
    over = tiny_overrides + ["train.max_steps=8", "train.log_every=1", "train.eval_every=4", "train.ckpt_every=4"]
    one, two = tmp_path / "one", tmp_path / "two"
    base = [sys.executable, "-m", "maskbench", "pretrain", *over]
    subprocess.run(base + [f"run.dir={one}"], check=True, capture_output=True)
    # A fresh free port per launch: reusing one fixed port right after the previous launch can meet its
    # socket still in TIME_WAIT (seen once in CI as a rank aborting at rendezvous).
    torchrun = lambda: [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",  # noqa: E731
                        f"--master_port={free_port()}", "-m", "maskbench", "pretrain", *over]
    out = launch(lambda: torchrun() + [f"run.dir={two}"])
    assert out.returncode == 0, out.stderr[-2000:]
    a, b = metrics(one), metrics(two)
    assert [x[:2] for x in a] == [x[:2] for x in b] and len(a) > 8
    for (_, _, la), (_, _, lb) in zip(a, b):
        assert abs(la - lb) < 1e-4  # same global batch -> same curve, to float tolerance
    assert not list(two.glob("**/*.tmp*"))  # only rank 0 wrote, and completely
    # Resume under torchrun: drop the end of the run, continue from step 4.
    shutil.rmtree(two / "checkpoints" / "final")
    out = launch(lambda: torchrun() + [f"run.dir={two}", "train.resume=true"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert metrics(two) == b


@pytest.mark.slow  # the multi-node rendezvous; test_two_processes_match_one covers the maths in the fast suite
def test_two_nodes_rendezvous_and_match_one(tiny_overrides, tmp_path):
    """The multi-node launch (one torchrun agent per node, --nnodes=2, rendezvous at --master_addr), here with
    both "nodes" on this machine: the same curve as one process."""
    over = tiny_overrides + ["train.max_steps=6", "train.log_every=1", "train.eval_every=3", "train.ckpt_every=3"]
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "maskbench", "pretrain", *over, f"run.dir={one}"], check=True,
                   capture_output=True)
    codes, logs = run_two_nodes(over, two, tmp_path / "logs0")
    if codes != [0, 0]:  # one more try, as launch() does: on a loaded 2-core machine the transport has failed alone
        shutil.rmtree(two, ignore_errors=True)
        first_logs = logs
        codes, logs = run_two_nodes(over, two, tmp_path / "logs1")
        logs = f"first try:\n{first_logs[-2000:]}\nsecond try:\n{logs}"
    assert codes == [0, 0], logs[-4000:]
    assert [(s, k, round(x, 4)) for s, k, x in metrics(one)] == [(s, k, round(x, 4)) for s, k, x in metrics(two)]


def run_two_nodes(over, run_dir, log_dir, deadline_s=180):
    """Both agents at once, their output in files (a pipe nobody reads can fill and stall a process). If one
    agent fails, the other would wait out torchrun's 300 s exit barrier: stop it at once and report both logs."""
    import time

    log_dir.mkdir(parents=True)
    port = free_port()
    procs = []
    for rank in (1, 0):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={rank}",
               "--nproc_per_node=1", "--master_addr=127.0.0.1", f"--master_port={port}",
               "-m", "maskbench", "pretrain", *over, f"run.dir={run_dir}"]
        with open(log_dir / f"node{rank}.log", "w") as log:
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    end = time.time() + deadline_s
    while time.time() < end and any(p.poll() is None for p in procs):
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.2)
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
    codes = [p.returncode for p in reversed(procs)]  # [node 0, node 1]
    logs = "".join(f"--- node {r} (exit {c})\n" + (log_dir / f"node{r}.log").read_text() for r, c in enumerate(codes))
    return codes, logs
