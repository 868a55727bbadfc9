"""Crash reports: what an exception that is not a `MaskbenchError` leaves behind (a bug, not bad input).

The CLI (`cli._guard`) shows such an exception as one line naming its crash file, and the traceback goes into
that file: the run folder being written when there is one (a run registers itself while it holds its lock,
maskbench/runs/lock.py), else the cache folder last used (maskbench/data/cache_root.py), else the system's
temporary folder. `MASKBENCH_DEBUG=1` prints the traceback instead. Exit code `INTERNAL_EXIT` (70, sysexits'
EX_SOFTWARE) tells it apart from a refused input (2), an interruption (130) and a closed pipe (141).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from maskbench.errors import safe_reason

INTERNAL_EXIT = 70
DEBUG_ENV = "MASKBENCH_DEBUG"

_runs: list[Path] = []        # run folders being written by this process, innermost last
_cache: list[Path] = []       # the cache folder last used (one entry)
RUN_ATTR = "_maskbench_run_dir"  # set on an exception that left a run: the run folder it happened in


def enter_run(run_dir: Path) -> None:
    """A run starts writing `run_dir` (its lock is held): a crash until `leave_run` is reported there."""
    _runs.append(Path(run_dir))


def leave_run(run_dir: Path, passing: BaseException | None = None) -> None:
    """The run stops writing `run_dir`; `passing`: the exception it stops on (reported there, as the innermost run
    it passed through)."""
    if passing is not None and getattr(passing, RUN_ATTR, None) is None:
        try:
            setattr(passing, RUN_ATTR, Path(run_dir))
        except AttributeError:  # an exception type that takes no attributes
            pass
    if Path(run_dir) in _runs:
        _runs.remove(Path(run_dir))


def note_cache(folder: Path) -> None:
    """The cache folder in use (the place for a crash report outside any run)."""
    _cache[:] = [Path(folder)]


def debug() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _candidates(exc: BaseException, fallback) -> list[Path]:
    # A run folder that holds nothing yet would look partial (and refuse a plain re-run) if a report made it:
    # only one the run has already written into is used.
    left = getattr(exc, RUN_ATTR, None)
    runs = [p for p in [*([left] if left else []), *reversed(_runs)]
            if p.is_dir() and any(q.name != ".lock" for q in p.iterdir())]
    cache = list(_cache)
    if not cache and fallback is not None:
        try:
            cache = [Path(fallback())]
        except Exception:  # the cache folder itself is unusable: the temporary folder still is
            cache = []
    return runs + cache + [Path(tempfile.gettempdir())]


def write_report(exc: BaseException, argv: list[str], fallback=None) -> Path | None:
    """Write the traceback of `exc` (with the command line and versions) to crash-<time>-<pid>.log in the first
    writable place; `fallback()`: the cache folder when none was used yet. None if nothing could be written."""
    text = "".join([f"command: {' '.join(argv)}\n", f"python: {sys.version.split()[0]}  maskbench: {_version()}\n",
                    f"time: {time.strftime('%Y-%m-%d %H:%M:%S')}\n\n",
                    *traceback.format_exception(type(exc), exc, exc.__traceback__)])
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in _candidates(exc, fallback):
        try:
            path = folder / name
            path.write_text(text, encoding="utf-8", errors="backslashreplace")  # argv may hold undecodable bytes
            return path
        except OSError:
            continue
    return None


def summary_line(exc: BaseException, report: Path | None) -> str:
    """internal error: TYPE: message — details in PATH; please report it (the message's first line)."""
    msg = safe_reason(exc) if str(exc).strip() else ""
    where = f"details in {report}" if report else f"set {DEBUG_ENV}=1 for the traceback"
    line = f"internal error: {type(exc).__name__}{': ' + msg if msg else ''} — {where}; please report it"
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("maskbench")
    except Exception:
        return "unknown"
