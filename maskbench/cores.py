"""How many CPU cores this process may use: its affinity mask where the OS has one (a Slurm job or a
`taskset` sees its share, not the whole machine), else the machine's count. No torch here: the corpus
encoding workers read it too."""

from __future__ import annotations

import os


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
