"""Hostile or damaged inputs: each must end in one clear line (or the right fallback), never in code
execution, a traceback or a silently wrong result."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

from maskbench.config import load_config
from maskbench.train.pretrain import run_pretrain


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file (what an attacker would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (subprocess.call, (["touch", self.marker],))


def test_resuming_a_checkpoint_with_a_pickle_payload_runs_nothing(tiny_overrides, tmp_path):
    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    # A shared run folder, tampered with: the final checkpoint removed, the step-10 trainer.pt replaced.
    shutil.rmtree(run / "checkpoints" / "final")
    (run / "summary.json").unlink()
    marker = tmp_path / "pwned"
    trainer = run / "checkpoints" / "step-000010" / "trainer.pt"
    with open(trainer, "wb") as fh:
        pickle.dump({"rng_cpu": _Payload(marker)}, fh)
    proc = subprocess.run([sys.executable, "-m", "maskbench", "pretrain", *tiny_overrides, f"run.dir={run}",
                           "train.resume=true"], capture_output=True, text=True, timeout=300)
    assert not marker.exists(), "the pickle payload was executed"
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "trainer.pt" in proc.stderr and "refused" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_todays_trainer_state_loads_under_weights_only(tiny_overrides, tmp_path):
    """The safe loader still reads what maskbench writes (optimizer state, RNG states)."""
    from maskbench.train.checkpoint import load_trainer

    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    state = load_trainer(run / "checkpoints" / "step-000010", None)
    assert state.step == 10 and state.tokens_seen > 0


def test_payload_class_really_executes_when_unpickled_unsafely(tmp_path):
    """Guard that the payload above is live: plain pickle.load does run it (so the test above can fail)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()
