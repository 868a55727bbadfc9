"""Where did each pretraining run leave the MLM plateau?

    python scripts/plateau_exit.py RUN [RUN ...] [--json]

For an encoder run with masked-token labels (bert_mlm, span_mlm, ELECTRA's generator): the count baselines of its
own validation batches (rebuilt from its config.yaml exactly as pretraining built them: same corruption, seed and
blocks) and the first evaluation whose masked accuracy beats the one-neighbour bigram (maskbench/inspect/plateau.py).
For every run, also the plateaus of its validation-loss curve (maskbench/report/plateaus.py) and its last evaluation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def run_exit(run: Path) -> dict:
    from omegaconf import OmegaConf

    from maskbench.arch import arch_of
    from maskbench.corruption import build_corruption
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab
    from maskbench.inspect.plateau import count_baselines, plateau_exit
    from maskbench.report.plateaus import find_plateaus
    from maskbench.runs.rundir import read_metrics
    from maskbench.train.batches import validation_batches
    from maskbench.typed import typed_config

    cfg = typed_config(OmegaConf.load(run / "config.yaml"))
    vals = [e for e in read_metrics(run) if e.get("split") == "val"]
    out = {"run": str(run), "corruption": cfg.corruption.name, "positions": cfg.model.positions,
           "last": {k: vals[-1].get(k) for k in ("step", "loss", "mlm_acc", "rtd_loss", "replaced_share")},
           "loss_plateaus": find_plateaus([(e["step"], e["loss"]) for e in vals])}
    if not arch_of(cfg.arch.name).encoder_only:
        return out
    cache = build_cache(cfg.data)
    vocab = Vocab.from_tokenizer(load_cache_tokenizer(cache))
    corruption = build_corruption(cfg.corruption, cfg.arch.name, vocab)
    train = BlockStore(cache, "train", cfg.data.content_len)
    val = validation_batches(BlockStore(cache, "val", cfg.data.content_len), corruption, cfg.seed,
                             cfg.data.val_blocks, cfg.train.batch_size)
    base = count_baselines(torch.from_numpy(train.tokens[:train.n_blocks * train.content_len].astype("int64")),
                           val, vocab)
    out["baselines"] = base
    out["plateau_exit"] = plateau_exit(vals, base["bigram"], acc_key="mlm_acc")
    return out


def main() -> None:
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
        if r["loss_plateaus"]:
            line += "; loss plateaus " + ", ".join(f"{q['start_step']}-{q['end_step'] or 'end'}" for q in r["loss_plateaus"])
        print(line)


if __name__ == "__main__":
    main()
