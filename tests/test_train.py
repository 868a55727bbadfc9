"""Pretraining end to end on tiny models: run folder contracts, determinism, resume, interruption."""

import json
import signal
import subprocess
import sys
import time

import pytest

from maskbench.config import load_config
from maskbench.runs.rundir import read_metrics
from maskbench.train.pretrain import run_pretrain


def pretrain(tiny_overrides, run_dir, *extra):
    cfg = load_config(tiny_overrides + [f"run.dir={run_dir}", *extra])
    return run_pretrain(cfg)


def losses(run_dir):
    return [(e["step"], e["split"], e["loss"]) for e in read_metrics(run_dir)]


def test_run_folder_contracts(tiny_overrides, tmp_path):
    run = pretrain(tiny_overrides, tmp_path / "r")
    events = read_metrics(run)
    train = [e for e in events if e["split"] == "train"]
    val = [e for e in events if e["split"] == "val"]
    assert train and val
    for e in train:
        assert {"step", "split", "loss", "lr", "tokens_per_s"} <= set(e)
    summary = json.loads((run / "summary.json").read_text())
    assert {"final_val_loss", "steps", "tokens_seen", "params", "wall_s"} <= set(summary)
    assert summary["steps"] == 20 and summary["tokens_seen"] == 20 * 8 * 30
    assert summary["final_val_loss"] < summary["initial_val_loss"]
    for name in ("config.yaml", "command.txt", "env.json", "tokenizer.json", "plots/loss.png"):
        assert (run / name).exists(), name
    final = run / "checkpoints" / "final"
    for name in ("model.safetensors", "trainer.pt", "state.json", "config.yaml", "tokenizer.json"):
        assert (final / name).exists(), name
    assert (run / "checkpoints" / "step-000010").exists()


@pytest.mark.parametrize("corruption, arch", [
    ("bert_mlm", "encoder"), ("bert_mlm_nsp", "encoder"), ("span_mlm", "encoder"),
    ("bert_mlm", "encoder_decoder"), ("bert_mlm_nsp", "encoder_decoder"), ("span_mlm", "encoder_decoder"),
    ("bart_mask", "encoder_decoder"), ("bart_delete", "encoder_decoder"), ("bart_infill", "encoder_decoder"),
    ("bart_permute", "encoder_decoder"), ("bart_rotate", "encoder_decoder"), ("bart", "encoder_decoder"),
    ("mass_span", "encoder_decoder"), ("t5_span", "encoder_decoder")])
def test_every_fitting_pair_trains(tiny_overrides, tmp_path, corruption, arch):
    run = pretrain(tiny_overrides, tmp_path / "r", f"corruption={corruption}", f"arch={arch}",
                   "train.max_steps=6", "train.eval_every=3")
    s = json.loads((run / "summary.json").read_text())
    assert s["steps"] == 6 and s["final_val_loss"] < s["initial_val_loss"]


def test_same_seed_same_run(tiny_overrides, tmp_path):
    a = pretrain(tiny_overrides, tmp_path / "a", "corruption=bart_infill", "arch=encoder_decoder")
    b = pretrain(tiny_overrides, tmp_path / "b", "corruption=bart_infill", "arch=encoder_decoder")
    assert losses(a) == losses(b)
    c = pretrain(tiny_overrides, tmp_path / "c", "corruption=bart_infill", "arch=encoder_decoder", "seed=1")
    assert losses(a) != losses(c)


def test_resume_from_checkpoint_matches_uninterrupted(tiny_overrides, tmp_path):
    import shutil

    full = pretrain(tiny_overrides, tmp_path / "full", "model.dropout=0.1")
    cut = pretrain(tiny_overrides, tmp_path / "cut", "model.dropout=0.1")
    # Pretend the run died after step 10: only the step-10 checkpoint and the metrics up to then remain.
    shutil.rmtree(cut / "checkpoints" / "final")
    (cut / "summary.json").unlink()
    metrics = [line for line in (cut / "metrics.jsonl").read_text().splitlines() if json.loads(line)["step"] <= 13]
    (cut / "metrics.jsonl").write_text("\n".join(metrics) + "\n")
    with pytest.raises(Exception, match="train.resume=true"):
        pretrain(tiny_overrides, cut, "model.dropout=0.1")  # never overwrites silently
    pretrain(tiny_overrides, cut, "model.dropout=0.1", "train.resume=true")
    assert losses(cut) == losses(full)  # same losses, step for step, dropout RNG included


def test_sigterm_leaves_a_resumable_run(tiny_overrides, tmp_path):
    run = tmp_path / "killed"
    # A constant learning rate makes the schedule independent of max_steps, so the killed run (max_steps
    # huge) and an uninterrupted run of the final length must give the same losses.
    same = ["train.schedule=constant", "train.warmup_steps=0", "train.ckpt_every=100000", "train.eval_every=100000",
            "train.log_every=1"]
    args = [sys.executable, "-m", "maskbench", "pretrain", *tiny_overrides, f"run.dir={run}",
            "train.max_steps=100000", *same]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (run / "metrics.jsonl").exists() and len(read_metrics(run)) > 30:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, f"exit {proc.returncode}; the run's stderr:\n{err[-3000:]}"
    assert "interrupted at step" in err and "train.resume=true" in err and "Traceback" not in err
    ckpts = list((run / "checkpoints").glob("step-*"))
    assert len(ckpts) == 1
    step = json.loads((ckpts[0] / "state.json").read_text())["step"]
    assert step > 0
    # Resume continues from that step (to a small total so the test stays short).
    cfg = load_config(tiny_overrides + [f"run.dir={run}", f"train.max_steps={step + 5}", "train.resume=true", *same])
    run_pretrain(cfg)
    steps = [e["step"] for e in read_metrics(run) if e["split"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == step + 5  # no duplicated steps after resume
    whole = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'whole'}",
                                                       f"train.max_steps={step + 5}", *same]))
    train_losses = lambda d: [(e["step"], e["loss"]) for e in read_metrics(d) if e["split"] == "train"]  # noqa: E731
    assert train_losses(run) == train_losses(whole)  # killed + resumed == uninterrupted, step for step


def test_given_tokenizer_file_reproduces_the_cache(tiny_overrides, tiny_setup, tmp_path):
    """WordPiece training breaks ties in hash order; reusing a run's tokenizer.json makes caches identical."""
    import numpy as np

    from maskbench.data.cache import build_cache

    cfg, cache, tok, vocab, store = tiny_setup
    again = load_config([o for o in tiny_overrides if not o.startswith("data.cache_dir")] +
                        [f"data.cache_dir={tmp_path / 'c2'}", f"data.tokenizer_file={cache / 'tokenizer.json'}"])
    other = build_cache(again.data)
    assert (other / "tokenizer.json").read_text() == (cache / "tokenizer.json").read_text()
    a = np.fromfile(cache / "train.tokens.bin", dtype=np.uint16)
    b = np.fromfile(other / "train.tokens.bin", dtype=np.uint16)
    assert np.array_equal(a, b)


def test_segment_embeddings_start_at_zero_and_pairs_learn_them(tiny_overrides, tmp_path):
    """Segment 0 is added to every single input (BERT's semantics): it starts at zero, so a fresh model's single
    inputs read exactly as without segments; NSP pretraining (pairs) moves segment 1 away from segment 0."""
    from safetensors.torch import load_file

    from maskbench.models import build_model

    cfg = load_config(tiny_overrides)
    model = build_model(cfg.model, "encoder", 400)
    assert model.encoder.seg.weight.shape == (2, cfg.model.d_model) and not model.encoder.seg.weight.any()
    run = run_pretrain(load_config(tiny_overrides + ["corruption=bert_mlm_nsp", "train.max_steps=6",
                                                     f"run.dir={tmp_path / 'nsp'}"]))
    seg = load_file(str(run / "checkpoints" / "final" / "model.safetensors"))["encoder.seg.weight"]
    assert (seg[1] - seg[0]).abs().max() > 1e-4


def test_lr_follows_the_share_of_a_seconds_budget():
    from maskbench.config.schema.train import TrainConfig
    from maskbench.train.optim import lr_at_time

    t = TrainConfig(lr=1.0, budget=100.0, budget_unit="seconds", warmup_steps=0.1)
    assert lr_at_time(0, 0.0, t) == pytest.approx(1e-3)  # warm-up: a tenth of the budget, from ~0
    assert lr_at_time(5, 5.0, t) == pytest.approx(0.5)
    assert lr_at_time(9, 10.0, t) == pytest.approx(1.0)
    assert lr_at_time(50, 55.0, t) == pytest.approx(0.5)  # linear decay over the other 90 s
    assert lr_at_time(99, 100.0, t) == 0.0
    t = TrainConfig(lr=1.0, budget=100.0, budget_unit="seconds", warmup_steps=4, schedule="cosine")
    assert lr_at_time(1, 0.2, t) == pytest.approx(0.5)  # a warm-up count stays in steps
    assert lr_at_time(4, 50.0, t) == pytest.approx(0.5)


def test_seconds_budget_stops_on_the_clock_with_its_schedule_completed_and_resumes(tiny_overrides, tmp_path):
    budget = ["train.budget_unit=seconds", "train.budget=3", "train.max_steps=5", "train.eval_every=20",
              "train.ckpt_every=20", "train.log_every=1"]
    run = pretrain(tiny_overrides, tmp_path / "s", *budget)
    s = json.loads((run / "summary.json").read_text())
    assert s["steps"] > 5  # max_steps does not stop a seconds budget
    assert 3.0 <= s["wall_s"] < 6.0 and s["budget"]["unit"] == "seconds"
    train = [e for e in read_metrics(run) if e["split"] == "train"]
    peak = max(e["lr"] for e in train)
    assert train[-1]["lr"] < 0.1 * peak  # the schedule ran to its end
    assert [e["split"] for e in read_metrics(run)][-1] == "val"  # evaluated at the stop
    # Resume from the step-20 checkpoint: the budget continues from the checkpoint's clock, not from zero.
    import shutil

    shutil.rmtree(run / "checkpoints" / "final")
    (run / "summary.json").unlink()
    keep = [json.dumps(e) for e in read_metrics(run) if e["step"] <= 20]
    (run / "metrics.jsonl").write_text("\n".join(keep) + "\n")
    at_20 = [e for e in read_metrics(run) if e["step"] == 20 and e["split"] == "train"][0]["elapsed_s"]
    pretrain(tiny_overrides, run, *budget, "train.resume=true")
    after = [e for e in read_metrics(run) if e["split"] == "train" and e["step"] > 20]
    assert after and after[0]["elapsed_s"] > at_20
    assert 3.0 <= json.loads((run / "summary.json").read_text())["wall_s"] < 6.0


def test_seconds_budget_needs_its_amount(tiny_overrides):
    from maskbench.errors import MaskbenchError

    with pytest.raises(MaskbenchError, match="train.budget=SECONDS"):
        load_config(tiny_overrides + ["train.budget_unit=seconds"])
