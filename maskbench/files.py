"""File primitives every layer uses: atomic writes, checksums, and an exclusive lock on a folder.

A lock is an `fcntl.flock` on a lock file: the operating system releases it when its process dies, however it
dies (`kill -9` included), so a lock is never stale. A second process gets one line naming the holder's pid
(or, with wait=True, waits for the holder to finish).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from maskbench.errors import InUse


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MB pieces (checkpoint and token-cache checksums)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename: a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
            raise InUse(f"{self.what} is in use by process {holder}: wait for it to finish, or use "
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
