"""Corpus preparation at scale: tokenizer training + memory-mapped token cache on a generated corpus.

    python benchmarks/bench_prepare.py --mb 200
    python benchmarks/bench_prepare.py --mb 1000 --shards 4 --append   # a folder of shards, then one more


The corpus is the embedded Wikipedia sample, its documents shuffled and renamed until it reaches the
requested size (real text, so sentence splitting and WordPiece see realistic input). Preparation
runs in a child process so its peak RSS is its own; reported: MB/s of text, peak memory of the
preparing process and of its largest encoding worker (total <= main + workers x largest), and the time
of each phase (tokenizer training, encoding).
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


def make_corpus(path: Path, mb: float, seed: int = 0) -> int:
    from maskbench.data.corpus import default_corpus_path

    text = default_corpus_path().read_text(encoding="utf-8")
    docs = [d for d in text.split("\n = ") if d.strip()]
    rng = random.Random(seed)
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


def child(corpus: str, cache: str, vocab: int, workers: int | None) -> None:
    from maskbench.config import load_config
    from maskbench.data.cache import build_cache

    cfg = load_config([f"data.paths=[{corpus}]", f"data.cache_dir={cache}", f"data.vocab_size={vocab}",
                       f"data.prepare_workers={workers or 'null'}"])
    t = time.perf_counter()
    marks = []  # (seconds since start, message): phase boundaries as build_cache announces them
    folder = build_cache(cfg.data, progress=lambda m: marks.append((time.perf_counter() - t, m)))
    wall = time.perf_counter() - t
    meta = json.loads((folder / "meta.json").read_text())
    mb = lambda who: resource.getrusage(who).ru_maxrss / 1024  # noqa: E731  (KiB on Linux)
    print(json.dumps({"wall_s": wall, "peak_rss_mb": mb(resource.RUSAGE_SELF),
                      "worker_peak_rss_mb": mb(resource.RUSAGE_CHILDREN), "marks": marks,
                      "tokens": meta["train_tokens"] + meta["val_tokens"]}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=float, default=200)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--workers", type=int, default=0, help="encoding processes (0 = maskbench's default)")
    p.add_argument("--shards", type=int, default=1, help="write the corpus as a folder of this many files")
    p.add_argument("--append", action="store_true", help="then add one more shard and prepare again")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.vocab, args.workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / ("corpus" if args.shards > 1 or args.append else "corpus.txt")
        if corpus.suffix:
            size = make_corpus(corpus, args.mb)
        else:
            corpus.mkdir()
            size = sum(make_corpus(corpus / f"shard-{i:03d}.txt", args.mb / args.shards, seed=i)
                       for i in range(args.shards))
        report(prepare(corpus, Path(tmp) / "cache", args), size, args, f"{args.shards} file(s)")
        if args.append:
            added = make_corpus(corpus / f"shard-{args.shards:03d}.txt", args.mb / args.shards, seed=args.shards)
            report(prepare(corpus, Path(tmp) / "cache", args), size + added, args,
                   f"after appending a {added / 1e6:.0f} MB shard", rate_bytes=added)


def prepare(corpus: Path, cache: Path, args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--vocab", str(args.vocab), "--workers", str(args.workers),
                          "--child", str(corpus), str(cache)], capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(r: dict, size: int, args, what: str, rate_bytes: int | None = None) -> None:
    rate = (rate_bytes or size) / 1e6 / r["wall_s"]
    print(f"corpus {size / 1e6:.0f} MB ({what}), vocab {args.vocab}: {r['wall_s']:.1f} s "
          f"({rate:.1f} MB/s{' of new text' if rate_bytes else ''}), {r['tokens']:,} tokens, peak RSS "
          f"{r['peak_rss_mb']:.0f} MB (main process) + largest encoding worker {r['worker_peak_rss_mb']:.0f} MB")
    for (t0, msg), (t1, _) in zip(r["marks"], r["marks"][1:] + [(r["wall_s"], "")]):
        print(f"  {t1 - t0:6.1f} s  {msg}")


if __name__ == "__main__":
    main()
