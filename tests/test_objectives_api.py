"""A user's own objective, without editing maskbench (docs/objectives_api.md): examples/my_objective.py copied to a
folder outside the package with its YAML in that folder's ./conf, pretrained for a few steps through the CLI,
resumed, measured by `corrupt --stats`; and the one-line errors of a plug-in that cannot be used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples"


def _project(tmp_path: Path) -> Path:
    """A user's project folder: their objective's file and conf/corruption/my_objective.yaml, nothing else."""
    project = tmp_path / "project"
    (project / "conf" / "corruption").mkdir(parents=True)
    shutil.copy(EXAMPLE / "my_objective.py", project / "my_objective.py")
    shutil.copy(EXAMPLE / "conf" / "corruption" / "my_objective.yaml", project / "conf" / "corruption")
    return project


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's maskbench, run from the user's folder
    env.pop("MASKBENCH_CONFIG_DIR", None)
    return subprocess.run([sys.executable, "-m", "maskbench", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_users_objective_pretrains_resumes_and_shows_its_statistics(tiny_overrides, tmp_path):
    project = _project(tmp_path)
    run = tmp_path / "run"
    args = ["pretrain", *tiny_overrides, "corruption=my_objective", f"run.dir={run}"]
    first = _cli(project, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert (run / "checkpoints" / "final").is_dir()
    # Cut the run back to its step-10 checkpoint and resume it with the same command.
    shutil.rmtree(run / "checkpoints" / "final")
    (run / "summary.json").unlink()
    again = _cli(project, *args, "train.resume=true")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout + again.stderr
    assert (run / "checkpoints" / "final").is_dir()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
             if '"split": "train"' in line]
    assert max(steps) == 20
    stats = _cli(project, "corrupt", *tiny_overrides, "corruption=my_objective", "--stats", "-n", "200", "--json")
    assert stats.returncode == 0, stats.stderr[-2000:]
    result = json.loads(stats.stdout.strip().splitlines()[-1])
    assert result["corruption"] == "my_objective" and result["specials_touched"] == 0
    assert 0.10 < result["selected_frac"] < 0.20 and result["random_frac"] == 1.0
    listed = _cli(project, "config", "list", "corruption")
    assert "my_objective" in listed.stdout


@pytest.mark.parametrize("objective, needle", [
    ("missing.py:X", "the file missing.py is not there"),
    ("my_objective.py:Nope", "my_objective.py has no Nope"),
    ("my_objective.py:RandomTokenCorruption", "is not an objective: derive it from"),
    ("broken.py:X", "importing"),
    ("no_such_module_here:X", "there is no module no_such_module_here"),
    ("no_such_entry_point", "entry point group maskbench.objectives"),
])
def test_a_plugin_that_cannot_be_used_is_one_line(tmp_path, objective, needle):
    project = _project(tmp_path)
    (project / "broken.py").write_text("raise RuntimeError('a bug in the plug-in')\n")
    proc = _cli(project, "config", "show", "corruption=my_objective", f"corruption.objective={objective}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], lines
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_a_plugins_own_check_is_one_line(tmp_path):
    proc = _cli(_project(tmp_path), "config", "show", "corruption=my_objective", "corruption.mask_prob=0.7")
    assert proc.returncode == 2 and "random-token MLM above 0.5" in proc.stderr + proc.stdout


def test_stream_ids_of_a_plugin_stay_clear_of_the_built_in_ones():
    from maskbench.corruption import streams

    builtin = set(streams.BERT + streams.BART + streams.MASS + streams.T5 + streams.UL2)
    assert max(builtin) <= streams.BUILTIN_MAX
    mine = streams.streams_of("my_objective", 8)
    assert min(mine) > streams.BUILTIN_MAX and len(set(mine)) == 8
    assert streams.streams_of("my_objective", 2) == mine[:2]  # stable: the same ids on every machine and run
