"""Every command in the README runs as written: the tour's cheap ones are executed, every other one is
checked — its overrides compose and validate, its sub-command and options exist."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
CHEAP = ("corrupt", "fill", "config")  # run for real (with `pretrain experiment=debug`, seconds each)
ROOTS = {"pretrain": "pretrain", "sweep": "pretrain", "finetune": "finetune", "compare": "finetune"}


def readme_commands() -> list[list[str]]:
    """The maskbench command lines of the README's bash blocks, as argv after `maskbench`."""
    text = README.read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv and argv[0].endswith("maskbench") and "..." not in line:
                out.append(argv[1:])
    return out


def test_the_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert lines[0] == "# maskbench" and len(lines) <= 150
    commands = [ln for ln in lines[:12] if ln.startswith("bash scripts/setup.sh")]
    assert len(commands) == 2 and "pytest" in commands[1] and "compare experiment=demo_zh" in commands[0]
    for link in re.findall(r"\]\(((?:docs/)[^)#]+)", README.read_text()):
        assert (README.parent / link).exists(), link
    assert not list(README.parent.glob("*.png"))  # images live in docs/images/


def _expand_sweep(argv: list[str]) -> list[str]:
    """A sweep's first grid point: `seed=1,2` -> `seed=1` (lists and quoted values stay whole)."""
    out = []
    for a in argv:
        key, eq, value = a.partition("=")
        if eq and "," in value and not value.startswith(("[", "'", '"')):
            value = value.split(",")[0]
        out.append(f"{key}{eq}{value}")
    return out


@pytest.mark.parametrize("argv", [c for c in readme_commands() if c[0] in ROOTS], ids=" ".join)
def test_overrides_in_the_readme_compose(argv):
    from maskbench.config import load_config

    overrides = [a for a in _expand_sweep(argv[1:]) if "=" in a]
    cfg = load_config(overrides, root=ROOTS[argv[0]])
    assert cfg.seed is not None


@pytest.mark.parametrize("argv", [c for c in readme_commands() if c[0] not in ROOTS], ids=" ".join)
def test_subcommands_and_options_in_the_readme_exist(argv):
    from typer.testing import CliRunner

    from maskbench.cli import app

    path = argv[:2] if argv[0] == "config" else argv[:1]
    result = CliRunner().invoke(app, path + ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for opt in (a for a in argv if a.startswith("-")):
        assert opt.split("=")[0] in result.output, f"{opt} is not an option of `maskbench {' '.join(path)}`"


def test_the_tour_runs_as_written(tmp_path):
    """The tour's cheap commands, executed in order in a fresh working directory."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    ran = 0
    for argv in readme_commands():
        is_debug = argv[:2] == ["pretrain", "experiment=debug"]
        if argv[0] not in CHEAP and not is_debug:
            continue
        proc = subprocess.run([sys.executable, "-m", "maskbench", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"maskbench {' '.join(argv)}: {proc.stderr[-500:]}"
        assert proc.stdout.strip()
        ran += 1
    assert ran >= 5
