"""Every random stream id, in one place. A stream is one independent random decision of a corruption
(corruption/keyed_random.py: draw j of stream s for example k is a pure function of (k, s, j)); two decisions
sharing an id would be correlated, so the built-in families own disjoint ranges here, and every other objective
(GPT-BERT's, a user's own) takes its ids from `streams_of(name, n)`: a block of ids derived from its name, far
above the built-in ones. The numbers of the built-in families are what they always were (changing one changes
every corruption, and with it the statistics and the results of runs already made)."""

from __future__ import annotations

import zlib

BERT = (11, 12, 13, 14, 15, 16, 17)  # select, action, random id, nsp, nsp split, span length, span gap
BART = (21, 22, 23, 24, 25, 26, 27, 28, 29)  # perm pick/order, select, span len/gap, random pick/id, rotate/at
MASS = (31, 32, 33, 34)  # where, start, action, random id
T5 = (41, 42)  # noise lengths, kept lengths
UL2 = (51, 52)  # mode, prefix length
BUILTIN_MAX = 99


def streams_of(name: str, n: int) -> tuple[int, ...]:
    """`n` stream ids for the objective `name`: a block of 64 derived from its name (stable across runs and
    machines), above every built-in id. At most 64 per objective."""
    if not 0 < n <= 64:
        raise ValueError("an objective takes 1 to 64 random streams")
    base = 1000 + (zlib.crc32(name.encode()) % 1_000_000) * 64
    return tuple(range(base, base + n))
