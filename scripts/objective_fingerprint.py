"""Fingerprint of every objective: `corrupt --stats` numbers and run-name hashes, printed one per line.

Run before and after a refactor of the objectives and diff the two outputs: they must be identical (the
statistics on N blocks of the default data, the run-name hash of `pretrain corruption=X arch=Y` and of a few
experiment presets). Usage: python scripts/objective_fingerprint.py [N_BLOCKS] (default 5000).
The ELECTRA statistics include its generator's samples (a fresh, seeded generator, as `corrupt --stats`)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's maskbench, not an installed one

from rich.console import Console  # noqa: E402

from maskbench.config import CONF_DIR, config_hash, load_config  # noqa: E402
from maskbench.errors import MaskbenchError  # noqa: E402
from maskbench.inspect.corrupt import run_corrupt  # noqa: E402

ARCHS = ("encoder", "encoder_decoder")
EXPERIMENTS = ("compare_objectives", "compare_objectives_encoder", "debug", "demo", "demo_zh", "mini_30min")


def main(n_blocks: int) -> None:
    quiet = Console(quiet=True)
    presets = sorted(p.stem for p in (CONF_DIR / "corruption").glob("*.yaml"))
    for name in presets:
        for arch in ARCHS:
            try:
                cfg = load_config([f"corruption={name}", f"arch={arch}"])
            except MaskbenchError:
                print(f"{name} {arch}: does not fit")
                continue
            print(f"{name} {arch} hash {config_hash(cfg)}")
            with redirect_stdout(io.StringIO()):
                result = run_corrupt(cfg, text=None, stats=True, n_blocks=n_blocks, as_json=True, seed=0, console=quiet)
            print(f"{name} {arch} stats {json.dumps(result, sort_keys=True)}")
    for exp in EXPERIMENTS:
        for extra in ([], ["corruption=bert_mlm"], ["corruption=t5_span", "arch=encoder_decoder"]):
            try:
                cfg = load_config([f"experiment={exp}", *extra])
            except MaskbenchError as e:
                print(f"experiment {exp} {' '.join(extra)}: {e}")
                continue
            print(f"experiment {exp} {' '.join(extra)} hash {config_hash(cfg)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
