"""One writer per run folder and per cache entry: an exclusive `fcntl.flock` on a lock file.

The operating system releases the lock when its process dies, however it dies (`kill -9` included), so
a lock is never stale. A second process gets one line naming the holder's pid (or, for a cache entry,
waits for the holder to finish and then uses what it built).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from maskbench.errors import MaskbenchError

LOCK_NAME = ".lock"


class FolderLock:
    def __init__(self, path: Path, what: str, wait: bool = False):
        self.path, self.what, self.wait = Path(path), what, wait
        self.fh = None

    def acquire(self) -> "FolderLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "another process"
            self.fh.close()
            self.fh = None
            raise MaskbenchError(f"{self.what} is in use by process {holder}: wait for it to finish, or use "
                                 f"another folder") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def release(self) -> None:
        if self.fh is not None:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def run_lock(run_dir: Path) -> FolderLock:
    """The lock of a run folder (a file inside it that `has_content` ignores)."""
    return FolderLock(Path(run_dir) / LOCK_NAME, f"run folder {run_dir}")


def has_content(run_dir: Path) -> bool:
    """A run folder that exists and holds anything besides its lock file."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and any(p.name != LOCK_NAME for p in run_dir.iterdir())
