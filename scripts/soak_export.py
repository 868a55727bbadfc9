"""Two exports to one target, started together, N times: `python scripts/soak_export.py RUN [--pairs 20]`.

Each round starts two `maskbench export RUN -o ROUND/model` processes at once beside a user's folder
(`ROUND/model.tmp-export/important.txt`) and checks: every export that reports success left a folder that
transformers loads, the other one said in one line why it did not, no traceback was printed, the user's
folder is untouched, and no temporary folder of ours is left. Prints one line per round and a summary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def one_round(run: Path, folder: Path) -> dict:
    from transformers import AutoConfig

    user = folder / "model.tmp-export"
    user.mkdir(parents=True)
    (user / "important.txt").write_text("mine")
    target = folder / "model"
    cmd = [sys.executable, "-m", "maskbench", "export", str(run), "-o", str(target)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    codes = [p.returncode for p in procs]
    text = "".join(o + e for o, e in outs)
    loads = False
    if 0 in codes:
        import transformers

        config = AutoConfig.from_pretrained(str(target))
        getattr(transformers, config.architectures[0]).from_pretrained(str(target))
        loads = True
    leftovers = [p.name for p in folder.iterdir() if p.name not in ("model", "model.tmp-export")]
    return {"codes": codes, "loads": loads, "traceback": "Traceback" in text,
            "user_intact": (user / "important.txt").read_text() == "mine" and len(list(user.iterdir())) == 1,
            "leftovers": leftovers, "refusal": next((line for o, e in outs for line in e.splitlines()
                                                     if line.startswith("error:")), "")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--pairs", type=int, default=20)
    args = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            r = one_round(args.run, Path(tmp) / f"round{i}")
            ok = (0 in r["codes"] and r["loads"] and not r["traceback"] and r["user_intact"] and not r["leftovers"]
                  and all(c in (0, 2) for c in r["codes"]))
            bad += not ok
            print(f"round {i + 1:2d}: exit codes {r['codes']}, success loads in transformers: {r['loads']}, "
                  f"traceback: {r['traceback']}, user's folder intact: {r['user_intact']}, leftovers: "
                  f"{r['leftovers'] or 'none'} | {r['refusal'][:110]}", flush=True)
    print(f"{args.pairs - bad} of {args.pairs} rounds clean")


if __name__ == "__main__":
    main()
