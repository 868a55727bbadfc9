"""Zero-shot minimal-pair scoring speed: seconds per 1,000 pairs (one model) on this machine's cores.

    python benchmarks/bench_score.py                       # BLiMP files from ../shared/data/blimp, if there
    python benchmarks/bench_score.py --pairs my.tsv --threads 2 --repeat 3

The models are the comparison's tiny shapes with random weights (the speed does not depend on the weights):
an encoder of `model=bert_tiny` (2 layers, 128 wide) and an encoder-decoder of the same shape (2 + 2 layers), both
with the shipped English Wikipedia tokenizer (8,192 pieces). Each is timed on every method it has (pll, pll-word;
encoder-decoder pll and all-masked; its input: BART's text infilling). `maskbench score` scores each run twice
(pretrained, random weights): a paradigm of 1,000 pairs costs twice the time printed. The first pass of each warms
up and is not counted; the median of --repeat passes is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

DEFAULT_PAIRS = Path(__file__).resolve().parents[2] / "shared" / "data" / "blimp"


def pairs_for(path: Path | None, n: int):
    from maskbench.zeroshot.pairs import Pair, read_pairs

    if path is not None and path.exists():
        pairs = read_pairs([path])
        if path.is_dir():  # a spread of paradigms, not the first file's alone
            step = max(1, len(pairs) // n)
            pairs = pairs[::step]
        return pairs[:n], str(path)
    import random

    words = ("the a of and to in is was for on that with as by at from his her it an were which be this are or had "
             "not but first one their its new after who they two have has been more also into other time").split()
    rng = random.Random(0)
    out = []
    for k in range(n):
        good = [rng.choice(words) for _ in range(rng.randint(5, 12))]
        out.append(Pair(" ".join(good), " ".join(rng.sample(good, len(good))), "synthetic", None, f"gen:{k}"))
    return out, "synthetic sentences (5-12 words)"


def time_one(arch: str, method: str, pairs, repeat: int) -> dict:
    from maskbench.config import load_config
    from maskbench.data.pinned import PINNED_DIR
    from maskbench.runs.source import ModelSource
    from maskbench.zeroshot.evaluate import encode_pairs, sentence_scores
    from maskbench.zeroshot.model import load_model

    cfg = load_config(["model=bert_tiny", f"arch={arch}"])
    src = ModelSource.scratch(cfg.model, arch, PINNED_DIR / "enwiki_gensim-8192.json")
    zm = load_model(src, method, random=True)
    times = []
    for k in range(repeat + 1):
        start = time.perf_counter()
        enc = encode_pairs(pairs, zm.tok, zm.max_tokens)
        sentence_scores(zm, enc, method, per_token=False)
        if k:
            times.append(time.perf_counter() - start)
    per_1000 = statistics.median(times) * 1000 / len(pairs)
    return {"arch": arch, "method": method, "s_per_1000_pairs": round(per_1000, 2),
            "runs_s": [round(t, 2) for t in times], "sentences": len(enc.seqs),
            "tokens_per_sentence": round(statistics.fmean(len(s) for s in enc.seqs), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    p.add_argument("--n", type=int, default=1000, help="pairs timed (a spread over the files)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    pairs, where = pairs_for(args.pairs, args.n)
    rows = [time_one(arch, method, pairs, args.repeat) for arch, method in
            (("encoder", "pll"), ("encoder", "pll-word"), ("encoder_decoder", "pll"), ("encoder_decoder", "all-masked"))]
    if args.json:
        print(json.dumps({"pairs": len(pairs), "from": where, "threads": args.threads, "rows": rows}, indent=1))
        return
    print(f"{len(pairs):,} pairs from {where}; {args.threads} threads; median of {args.repeat} passes")
    for r in rows:
        print(f"  {r['arch']:<16} {r['method']:<11} {r['s_per_1000_pairs']:6.2f} s per 1,000 pairs "
              f"({r['sentences']:,} distinct sentences, {r['tokens_per_sentence']} tokens each)")


if __name__ == "__main__":
    main()
