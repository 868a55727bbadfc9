"""Where did each pretraining run leave the MLM plateau?

    python scripts/plateau_exit.py RUN [RUN ...] [--json]

For an encoder run with masked-token labels (bert_mlm, span_mlm, ELECTRA's generator): the count baselines of its
own validation batches (rebuilt from its config.yaml exactly as pretraining built them: same corruption, seed and
blocks) and the first evaluation whose masked accuracy beats the one-neighbour bigram (maskbench/inspect/plateau.py).
For every run, also the plateaus of its validation-loss curve (maskbench/report/plateaus.py) and its last evaluation;
for an ELECTRA run, its discriminator's loss against the prior's (the entropy of p(replaced)).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    from maskbench.inspect.plateau import run_exit

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    results = [run_exit(r) for r in args.runs]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for r in results:
        last = r["last"]
        line = f"{Path(r['run']).name}: {r['corruption']}, {r['positions']} positions; last step {last['step']}, " \
               f"val {last['loss']:.3f}"
        if last.get("mlm_acc") is not None:
            line += f", masked acc {100 * last['mlm_acc']:.1f}%"
        if "baselines" in r:
            b, x = r["baselines"], r["plateau_exit"]
            line += (f"; bigram {100 * b['bigram']:.1f}% (unigram {100 * b['unigram']:.1f}%): "
                     + (f"left the plateau at step {x['step']}" if x else "still on the plateau"))
        if r.get("rtd_vs_prior"):
            end, best = r["rtd_vs_prior"][-1], min(r["rtd_vs_prior"], key=lambda e: e["gap"])
            line += (f"; discriminator {end['rtd_loss']:.3f} vs prior {end['prior']:.3f} at the end "
                     f"({end['gap']:+.3f}; best {best['gap']:+.3f} at step {best['step']})")
        if r["loss_plateaus"]:
            line += "; loss plateaus " + ", ".join(f"{q['start_step']}-{q['end_step'] or 'end'}" for q in r["loss_plateaus"])
        print(line)


if __name__ == "__main__":
    main()
