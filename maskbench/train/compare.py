"""`maskbench compare`: the seed figure. Fine-tune a pretrained model and the same model from random
init with identical data order, hyper-parameters and seeds; plot pretrained (solid) vs scratch (dashed)."""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.config import config_hash, load_config, run_dir_for, runtime_overrides, with_changes
from maskbench.errors import MaskbenchError
from maskbench.runs.lock import has_content
from maskbench.runs.rundir import write_atomic
from maskbench.train.finetune import resolve_init, run_finetune


def ensure_pretrained(cfg, console=None) -> Path:
    """The pretraining run to start from: compare.init, or the run that compare.pretrain describes
    (trained now if missing, resumed if interrupted, reused if complete)."""
    if cfg.compare.init:
        return Path(str(cfg.compare.init)).expanduser().resolve()
    from maskbench.train.pretrain import run_pretrain

    overrides = list(cfg.compare.pretrain) + runtime_overrides(cfg)
    pcfg = load_config(overrides)
    run_dir = run_dir_for(pcfg)
    if has_content(run_dir):
        pcfg = load_config(overrides + ["train.resume=true"])
    run_pretrain(pcfg, command="maskbench pretrain " + " ".join(overrides), console=console)
    return run_dir


def run_compare(cfg, command: str = "", console=None) -> Path:
    if str(cfg.get("init", "scratch")) != "scratch":  # the finetune spelling would be silently ignored
        raise MaskbenchError(f"compare takes its pretrained model as compare.init={cfg.init} (init= is finetune's)")
    pre_dir = ensure_pretrained(cfg, console)
    pre = resolve_init(with_changes(cfg, init=str(pre_dir)))
    scratch = pre.scratch_twin()
    out = Path(str(cfg.run.dir)).expanduser().resolve() if cfg.run.dir else (
        Path(str(cfg.run.root)) / f"compare-{cfg.task.name}-{pre_dir.name}-{config_hash(cfg)}").resolve()
    # pre_dir may be a run folder or one of its checkpoints; figures name the run
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in cfg.compare.seeds:
        for label, backbone in (("pretrained", pre), ("scratch", scratch)):
            run = out / f"{label}-s{seed}"
            # An interrupted compare redoes only the unfinished run.
            resume = run.exists() and not (run / "summary.json").exists()
            scfg = with_changes(cfg, seed=int(seed), **({"train": {"resume": True}} if resume else {}))
            run_finetune(scfg, command=command, console=console, backbone=backbone, run_dir=run)
            runs.append((label, int(seed), run))
    from maskbench.report.compare_plot import compare_summary, plot_compare, print_compare

    summary = compare_summary(runs, cfg.task.metric, cfg.task.name, str(pre_dir))
    write_atomic(out / "summary.json", json.dumps(summary, indent=1))
    plot_compare(runs, cfg.task.metric, out / "compare.png",
                 title=f"{cfg.task.name}: pretrained ({Path(pre_dir).name}) vs scratch")
    if console:
        print_compare(summary, console)
    if console:
        console.print(f"wrote {out / 'compare.png'}", markup=False)
    return out

