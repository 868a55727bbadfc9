"""maskbench vs HuggingFace transformers on the same model shape and the same corrupted batches.

    python benchmarks/bench_train.py --arch encoder --corruption bert_mlm
    python benchmarks/bench_train.py --arch encoder_decoder --corruption bart_infill --layers 2

Each repeat runs one worker process per implementation, alternating (maskbench, hf, maskbench, hf, ...);
the report gives medians, and each implementation's peak memory alone in its process. Then one process
holds both models and runs one step of each in turn (`--pairs` pairs, order alternating): on a shared
machine whose speed drifts by tens of percent within minutes, the ratio of the two steps of a pair is the
steadiest measure, and the headline is its median with quartiles. Every worker builds the same batches
from the default corpus with maskbench's corruption (HF gets them pre-built, so its data time is not
counted against it), warms up, then times `--steps` optimizer steps (AdamW, grad clipping, fp32 on CPU,
bf16 autocast on CUDA).

FLOPs per step = 3 x forward FLOPs (backward ~ 2 x forward), forward FLOPs counted from the matmuls each
implementation actually runs: 2*d*(3d + d + 2*d_ff) per token per layer (projections + FFN; decoder
layers add cross-attention 2*d*2d per target token for queries and output, 2*d*2d per source token
for memory keys/values), 4*S*d per token per layer for attention scores and values, and 2*d*V per position where the
vocabulary projection is computed (maskbench: labelled positions only; HF: every position), plus BERT's
2*d*d transform at the same positions for the encoder (both have it: maskbench's default encoder head).
maskbench's encoder runs its last block's queries, attention output and FFN only at the positions its losses
read (labels, and position 0 under NSP); keys and values at every position.
Achieved FLOP/s = FLOPs per step / step time; the ceiling is a measured fp32 (or bf16 on CUDA) matmul rate
in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch


def matmul_ceiling(device: str, dtype=torch.float32, n: int = 2048, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t)


def overrides(args) -> list[str]:
    return [f"corruption={args.corruption}", f"arch={args.arch}", "model=mini",
            f"model.d_model={args.d_model}", f"model.n_layers={args.layers}", f"model.n_heads={args.heads}",
            f"model.d_ff={args.d_ff}", f"data.vocab_size={args.vocab}", f"data.seq_len={args.seq}",
            f"train.batch_size={args.batch}", f"runtime.compile={str(args.compile).lower()}",
            f"runtime.device={args.device}"] + (["model.max_positions=1024"] if args.seq + 16 > 512 else [])


def flops_per_step(args, batch, impl: str, vocab: int) -> float:
    d, ff, L = args.d_model, args.d_ff, args.layers
    B, S = batch.input_ids.shape
    layer_tok = 2 * d * (4 * d + 2 * ff)
    fwd = B * S * L * (layer_tok + 4 * S * d)
    if batch.decoder_input_ids is not None:
        T = batch.decoder_input_ids.shape[1]
        fwd += B * T * L * (layer_tok + 4 * d * d + 4 * T * d + 4 * S * d) + B * S * L * 4 * d * d
        head_positions = int((batch.labels >= 0).sum()) if impl == "maskbench" else B * T
        fwd += head_positions * 2 * d * vocab
    else:
        head_positions = int((batch.labels >= 0).sum()) if impl == "maskbench" else B * S
        fwd += head_positions * 2 * d * vocab
        fwd += head_positions * 2 * d * d  # BERT's prediction-head transform (maskbench's encoder default too)
        if impl == "maskbench":  # its last block runs queries, output and FFN only at the positions read
            read = head_positions + (B if batch.nsp_labels is not None else 0)
            fwd -= (B * S - read) * (2 * d * (2 * d + 2 * ff) + 4 * S * d)
    return 3.0 * fwd


def setup(args):
    """Config, vocabulary and the batch source every implementation shares."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from maskbench.config import load_config
    from maskbench.corruption import build_corruption
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab
    from maskbench.train.batches import PretrainBatches

    cfg = load_config(overrides(args))
    cache = build_cache(cfg.data)
    vocab = Vocab.from_tokenizer(load_cache_tokenizer(cache))
    store = BlockStore(cache, "train", args.seq - 2)
    batches = PretrainBatches(store, build_corruption(cfg.corruption, args.arch, vocab), 0, args.batch)
    return cfg, vocab, batches


class Trainer:
    """One implementation's training step on the shared batches. maskbench builds its batches as `pretrain`
    does (a prefetch thread where it has a core of its own, else inline, counted in the step); HF gets them
    pre-built, so its data time is not counted against it."""

    def __init__(self, impl: str, args, cfg, vocab, batches):
        from maskbench.models import build_model, count_params
        from maskbench.train.batches import Prefetcher, prefetch_wanted
        from maskbench.train.loop import autocast
        from maskbench.train.losses import pretrain_terms
        from maskbench.train.optim import build_optimizer

        self.impl, self.device = impl, args.device
        self.build_times: list[float] = []
        total = args.warmup + args.steps
        torch.manual_seed(0)

        def make(step):
            t0 = time.perf_counter()
            b, n = batches.batch(step)
            b = b.drop_diagnostics().to(self.device, non_blocking=True)
            self.build_times.append(time.perf_counter() - t0)
            return b, n

        self.make = make
        if impl == "maskbench":
            model = build_model(cfg.model, args.arch, vocab.size).to(self.device)
            if args.compile:
                model = torch.compile(model)
            opt = build_optimizer(model, cfg.train)
            prefetch = Prefetcher(make, 0, total, enabled=prefetch_wanted(None, self.device))  # as `pretrain` does

            def step_fn(b):
                with autocast(self.device, "auto"):
                    terms = pretrain_terms(model, b)
                s, n = terms["mlm"].loss_sum, terms["mlm"].count
                return s / n
            self.get = prefetch.get
            self.params = count_params(model)
        else:
            model, to_hf = hf_model(args, vocab)
            model = model.to(self.device)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
            prebuilt = [to_hf(make(s)[0]) for s in range(total)]
            self.build_times.clear()

            def step_fn(b):
                with autocast(self.device, "auto"):
                    return model(**b).loss
            self.get = lambda s: (prebuilt[s], None)  # noqa: E731
            self.params = sum(p.numel() for p in model.parameters())
        model.train()
        self.model, self.opt, self.loss_fn = model, opt, step_fn

    def step(self, s: int) -> tuple[float, float]:
        """Run optimizer step `s`; (seconds waiting for its batch, seconds in all)."""
        t0 = time.perf_counter()
        b, _ = self.get(s)
        t1 = time.perf_counter()
        loss = self.loss_fn(b)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return t1 - t0, time.perf_counter() - t0


def worker(args) -> dict:
    """One implementation alone in this process: its speed and its peak memory."""
    cfg, vocab, batches = setup(args)
    trainer = Trainer(args.impl, args, cfg, vocab, batches)
    waits, times = [], []
    for s in range(args.warmup + args.steps):
        wait, took = trainer.step(s)
        if s >= args.warmup:
            waits.append(wait)
            times.append(took)
    step_s = statistics.median(times)
    sample, _ = trainer.make(0)  # FLOPs are counted on maskbench's batch of the same step
    flops = flops_per_step(args, sample, args.impl, vocab.size)
    out = {
        "impl": args.impl, "params": trainer.params, "step_s": step_s,
        "tokens_per_s": args.batch * args.seq / step_s,
        "flops_per_step": flops, "flops_per_s": flops / step_s,
        "batch_wait_share": sum(waits) / sum(times),
        "batch_build_share": (statistics.median(trainer.build_times) / step_s) if args.impl == "maskbench" else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.device.startswith("cuda"):
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    return out


def interleaved(args) -> dict:
    """Both implementations in one process, one step each in turn (the order alternating): a shared machine's
    speed drifts by tens of percent within minutes, and each pair of steps sees the same moment of it."""
    cfg, vocab, batches = setup(args)
    ours = Trainer("maskbench", args, cfg, vocab, batches)
    theirs = Trainer("hf", args, cfg, vocab, batches)
    ratios, mine, hf = [], [], []
    for s in range(args.warmup + args.steps):
        pair = (ours, theirs) if s % 2 == 0 else (theirs, ours)
        took = {t.impl: t.step(s)[1] for t in pair}
        if s >= args.warmup:
            mine.append(took["maskbench"])
            hf.append(took["hf"])
            ratios.append(took["hf"] / took["maskbench"])
    q = statistics.quantiles(ratios, n=4)
    return {"pairs": len(ratios), "ratio": statistics.median(ratios), "ratio_q1": q[0], "ratio_q3": q[2],
            "maskbench_step_s": statistics.median(mine), "hf_step_s": statistics.median(hf)}


def hf_model(args, vocab):
    """The HuggingFace model of the same shape, and a converter from maskbench batches to its inputs."""
    import transformers

    if args.arch == "encoder":
        conf = transformers.BertConfig(
            vocab_size=vocab.size, hidden_size=args.d_model, num_hidden_layers=args.layers,
            num_attention_heads=args.heads, intermediate_size=args.d_ff, max_position_embeddings=512,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=vocab.pad)
        model = transformers.BertForMaskedLM(conf)

        def to_hf(b):
            return {"input_ids": b.input_ids, "attention_mask": torch.ones_like(b.input_ids),
                    "token_type_ids": torch.zeros_like(b.input_ids), "labels": b.labels}
    else:
        conf = transformers.BartConfig(
            vocab_size=vocab.size, d_model=args.d_model, encoder_layers=args.layers, decoder_layers=args.layers,
            encoder_attention_heads=args.heads, decoder_attention_heads=args.heads, encoder_ffn_dim=args.d_ff,
            decoder_ffn_dim=args.d_ff, max_position_embeddings=1024, dropout=0.0, attention_dropout=0.0,
            activation_dropout=0.0, pad_token_id=vocab.pad, bos_token_id=vocab.bos, eos_token_id=vocab.eos,
            decoder_start_token_id=vocab.bos, forced_eos_token_id=None)
        model = transformers.BartForConditionalGeneration(conf)

        def to_hf(b):
            mask = torch.ones_like(b.input_ids) if b.pad_mask is None else (~b.pad_mask).long()
            return {"input_ids": b.input_ids, "attention_mask": mask, "decoder_input_ids": b.decoder_input_ids,
                    "labels": b.labels}
    return model, to_hf


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="encoder", choices=["encoder", "encoder_decoder"])
    p.add_argument("--corruption", default="bert_mlm")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=None, help="GPU peak for MFU (H100 SXM bf16: 989)")
    p.add_argument("--impls", default="maskbench,hf")
    p.add_argument("--pairs", type=int, default=24,
                   help="interleaved step pairs for the headline ratio (0: skip that phase)")
    p.add_argument("--impl", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.impl == "both":
        print(json.dumps(interleaved(args)))
        return
    if args.impl:
        print(json.dumps(worker(args)))
        return
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    ceiling = matmul_ceiling(args.device, dtype)
    results: dict[str, list[dict]] = {}
    base = [sys.executable, __file__] + [a for a in sys.argv[1:]]
    for r in range(args.repeats):
        for impl in args.impls.split(","):
            out = subprocess.run(base + ["--impl", impl], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{impl} worker failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results.setdefault(impl, []).append(res)
            print(f"repeat {r + 1} {impl:9s} {res['tokens_per_s']:9,.0f} tok/s  step {res['step_s']:.3f}s",
                  flush=True)
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("tokens_per_s", "flops_per_s", "peak_rss_mb",
                                                                  "step_s", "batch_wait_share")}
           | {"params": v[0]["params"], "flops_per_step": v[0]["flops_per_step"],
              "batch_build_share": v[0]["batch_build_share"]} for k, v in results.items()}
    print(f"\n{args.arch} + {args.corruption}: d={args.d_model} L={args.layers} H={args.heads} ff={args.d_ff} "
          f"V={args.vocab} seq={args.seq} batch={args.batch} device={args.device} threads={args.threads} "
          f"torch {torch.__version__}; {args.repeats} repeats x {args.steps} steps, medians")
    print(f"measured matmul ceiling: {ceiling / 1e9:,.1f} GFLOP/s ({str(dtype).split('.')[-1]})")
    print(f"{'impl':10s} {'params':>9s} {'tok/s':>9s} {'step s':>7s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} "
          f"{'% ceiling':>9s} {'peak RSS MB':>11s} {'batch wait':>10s} {'batch build':>11s}")
    for k, m in med.items():
        build = "-" if m["batch_build_share"] is None else f"{100 * m['batch_build_share']:.1f}%"
        line = (f"{k:10s} {m['params']:>9,d} {m['tokens_per_s']:>9,.0f} {m['step_s']:>7.3f} "
                f"{m['flops_per_step'] / 1e9:>10.1f} {m['flops_per_s'] / 1e9:>8.1f} "
                f"{100 * m['flops_per_s'] / ceiling:>8.1f}% {m['peak_rss_mb']:>11.0f} "
                f"{100 * m['batch_wait_share']:>9.1f}% {build:>11s}")
        if args.peak_tflops:
            line += f"  MFU {100 * m['flops_per_s'] / (args.peak_tflops * 1e12):.1f}%"
        print(line)
    if "maskbench" in med and "hf" in med:
        ratios = [a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(results["maskbench"], results["hf"])]
        print(f"maskbench / HF tokens/s, separate processes: "
              f"{med['maskbench']['tokens_per_s'] / med['hf']['tokens_per_s']:.2f}x "
              f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)})")
        if args.pairs:
            out = subprocess.run(base + ["--impl", "both", "--steps", str(args.pairs)], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"interleaved worker failed:\n{out.stderr[-3000:]}")
            both = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"maskbench / HF tokens/s, interleaved step by step in one process: {both['ratio']:.2f}x "
                  f"(median of {both['pairs']} step pairs, quartiles {both['ratio_q1']:.2f}-{both['ratio_q3']:.2f}; "
                  f"steps {both['maskbench_step_s']:.3f} s vs {both['hf_step_s']:.3f} s)")


if __name__ == "__main__":
    main()
