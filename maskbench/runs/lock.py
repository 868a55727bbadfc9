"""One writer per run folder: the folder's lock file (maskbench/files.py FolderLock), which `has_content`
ignores."""

from __future__ import annotations

import sys
from pathlib import Path

from maskbench import crash
from maskbench.files import FolderLock

LOCK_NAME = ".lock"


class RunLock(FolderLock):
    """A run folder's lock; while it is held, a crash is reported into the folder (maskbench/crash.py)."""

    def acquire(self) -> "RunLock":
        super().acquire()
        crash.enter_run(self.path.parent)
        return self

    def release(self) -> None:
        if self.fh is not None:
            crash.leave_run(self.path.parent, sys.exc_info()[1])  # released as an exception passes: its run
        super().release()


def run_lock(run_dir: Path) -> RunLock:
    """The lock of a run folder (a file inside it that `has_content` ignores)."""
    return RunLock(Path(run_dir) / LOCK_NAME, f"run folder {run_dir}")


def has_content(run_dir: Path) -> bool:
    """A run folder that exists and holds anything besides its lock file."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and any(p.name != LOCK_NAME for p in run_dir.iterdir())
