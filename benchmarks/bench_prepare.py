"""Corpus preparation at scale: tokenizer training + memory-mapped token cache on a generated corpus.

    python benchmarks/bench_prepare.py --mb 200

The corpus is the embedded Wikipedia sample, its documents shuffled and renamed until it reaches the
requested size (real text, so sentence splitting and WordPiece see realistic input). Preparation
runs in a child process so its peak RSS is its own; reported: MB/s of text and peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_corpus(path: Path, mb: int) -> int:
    from maskbench.data.corpus import default_corpus_path

    text = default_corpus_path().read_text(encoding="utf-8")
    docs = [d for d in text.split("\n = ") if d.strip()]
    rng = random.Random(0)
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        copy = 0
        while written < mb * 1_000_000:
            rng.shuffle(docs)
            for d in docs:
                body = d.split(" = \n", 1)[-1]
                chunk = f" = Article {copy} = \n\n{body}\n"
                fh.write(chunk)
                written += len(chunk.encode())
                copy += 1
    return written


def child(corpus: str, cache: str, vocab: int) -> None:
    from maskbench.config import load_config
    from maskbench.data.cache import build_cache

    cfg = load_config([f"data.paths=[{corpus}]", f"data.cache_dir={cache}", f"data.vocab_size={vocab}"])
    t = time.perf_counter()
    folder = build_cache(cfg.data, progress=lambda m: print(m, file=sys.stderr, flush=True))
    wall = time.perf_counter() - t
    meta = json.loads((folder / "meta.json").read_text())
    print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "tokens": meta["train_tokens"] + meta["val_tokens"]}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=int, default=200)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.vocab)
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        size = make_corpus(corpus, args.mb)
        out = subprocess.run([sys.executable, __file__, "--vocab", str(args.vocab), "--child", str(corpus),
                              str(Path(tmp) / "cache")], capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"corpus {size / 1e6:.0f} MB, vocab {args.vocab}: {r['wall_s']:.1f} s "
              f"({size / 1e6 / r['wall_s']:.1f} MB/s), {r['tokens']:,} tokens, peak RSS {r['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
