"""Prove the GPU path in one command: `python benchmarks/gpu_check.py [--quick] [--out FILE]`.

Without a GPU it says so in one line and exits 0. With one (CUDA):
  1. every objective x architecture pretrains a few steps of `experiment=debug` in fp32 and in bf16,
     with and without `torch.compile`: losses must be finite and the bf16 run must track fp32
     (final validation loss within 5%);
  2. with two or more GPUs, a 2-process torchrun (NCCL) must follow the 1-process curve;
  3. speed: BERT-base shapes (12 x 768, vocab 30,522) at seq 128 and 512 in bf16, maskbench next to
     transformers' BertForMaskedLM, and a BART-base-shaped encoder-decoder next to
     BartForConditionalGeneration, through benchmarks/bench_train.py: tokens/s, and MFU against the
     card's dense bf16 peak (a table of known cards; else --peak-tflops).
Prints one line per check and a summary table; exit 1 if any check failed. Needs the [bench] extra.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
# Dense bf16 peak TFLOP/s (no sparsity), from the vendors' data sheets.
PEAKS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H100 NVL": 835.0,
         "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0, "V100": 125.0}
PAIRS = [("bert_mlm", "encoder"), ("bert_mlm_nsp", "encoder"), ("span_mlm", "encoder"),
         ("bert_mlm", "encoder_decoder"), ("bart_mask", "encoder_decoder"), ("bart_delete", "encoder_decoder"),
         ("bart_infill", "encoder_decoder"), ("bart_permute", "encoder_decoder"), ("bart_rotate", "encoder_decoder"),
         ("bart", "encoder_decoder"), ("mass_span", "encoder_decoder"), ("t5_span", "encoder_decoder")]


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    return next((v for k, v in PEAKS.items() if k in name), None)


def pretrain(root: Path, tag: str, *overrides: str, torchrun: int = 0) -> dict:
    """Run a short maskbench pretraining in a subprocess; its summary and validation losses."""
    run = root / tag
    cmd = [sys.executable, "-m", "maskbench", "pretrain", "experiment=debug", "runtime.device=cuda",
           "runtime.progress=false", f"run.dir={run}", *overrides]
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={torchrun}", *cmd[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        return {"ok": False, "error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    summary = json.loads((run / "summary.json").read_text())
    vals = [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()
            if json.loads(x)["split"] == "val"]
    return {"ok": all(math.isfinite(v) for v in vals), "final": summary["final_val_loss"], "vals": vals}


def functional(root: Path, quick: bool) -> list[tuple[str, bool, str]]:
    results = []
    pairs = PAIRS[:1] + PAIRS[6:7] if quick else PAIRS
    for corruption, arch in pairs:
        base = (f"corruption={corruption}", f"arch={arch}")
        fp32 = pretrain(root, f"{corruption}-{arch}-fp32", *base, "runtime.precision=fp32")
        for label, extra in (("bf16", ("runtime.precision=bf16",)),
                             ("bf16+compile", ("runtime.precision=bf16", "runtime.compile=true")),
                             ("fp32+compile", ("runtime.precision=fp32", "runtime.compile=true"))):
            other = pretrain(root, f"{corruption}-{arch}-{label}", *base, *extra)
            ok = fp32["ok"] and other["ok"] and abs(other["final"] - fp32["final"]) <= 0.05 * abs(fp32["final"])
            detail = other.get("error") or fp32.get("error") or \
                f"final val {fp32['final']:.4f} (fp32) vs {other['final']:.4f} ({label})"
            results.append((f"{corruption} on {arch}: {label} tracks fp32", ok, detail))
    if torch.cuda.device_count() >= 2:
        one = pretrain(root, "ddp-1", "train.max_steps=8", "train.log_every=1")
        two = pretrain(root, "ddp-2", "train.max_steps=8", "train.log_every=1", torchrun=2)
        ok = one["ok"] and two["ok"] and all(abs(a - b) < 1e-3 for a, b in zip(one["vals"], two["vals"]))
        results.append(("2-GPU torchrun (NCCL) follows 1 GPU", ok, two.get("error") or f"{one['vals']} vs {two['vals']}"))
    else:
        results.append(("2-GPU torchrun", True, "skipped: one GPU visible"))
    return results


def speed(peak: float | None, quick: bool) -> list[str]:
    shapes = [("encoder", "bert_mlm", 128, 64), ("encoder", "bert_mlm", 512, 16),
              ("encoder_decoder", "bart_infill", 128, 64)]
    lines = []
    for arch, corruption, seq, batch in shapes[:1] if quick else shapes:
        layers = "12" if arch == "encoder" else "6"  # BART-base: 6 + 6
        cmd = [sys.executable, str(HERE / "bench_train.py"), "--device", "cuda", "--arch", arch, "--corruption",
               corruption, "--d-model", "768", "--layers", layers, "--heads", "12", "--d-ff", "3072", "--vocab",
               "30522", "--seq", str(seq), "--batch", str(batch), "--steps", "20", "--warmup", "5", "--repeats", "2"]
        if peak:
            cmd += ["--peak-tflops", str(peak)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        text = out.stdout.strip().splitlines()
        lines.append(f"== {arch} {corruption} seq {seq} batch {batch} (bf16)")
        lines += text[-6:] if out.returncode == 0 else [f"FAILED: {(out.stderr or out.stdout)[-400:]}"]
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two objectives and one speed shape")
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of this GPU, if not in the table")
    p.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no GPU: torch.cuda.is_available() is False; nothing to check on this machine")
        return 0
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops(name, args.peak_tflops)
    report = [f"GPU: {name} x {torch.cuda.device_count()}; torch {torch.__version__}; CUDA {torch.version.cuda}; "
              f"dense bf16 peak {peak or 'unknown'} TFLOP/s"]
    with tempfile.TemporaryDirectory(prefix="maskbench-gpu-check-") as tmp:
        checks = functional(Path(tmp), args.quick)
    for what, ok, detail in checks:
        report.append(f"[{'ok' if ok else 'FAIL'}] {what}: {detail}")
    report += speed(peak, args.quick)
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
