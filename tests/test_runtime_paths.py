"""Speed-only runtime paths exercised on CPU: bf16 autocast (the GPU default) and torch.compile."""

import json
import math

import pytest

from maskbench.config import load_config
from maskbench.train.pretrain import run_pretrain


@pytest.mark.parametrize("arch, corruption", [("encoder", "bert_mlm"), ("encoder_decoder", "bart_infill")])
def test_bf16_autocast_trains(tiny_overrides, tmp_path, arch, corruption):
    cfg = load_config(tiny_overrides + [f"arch={arch}", f"corruption={corruption}", "runtime.precision=bf16",
                                        "train.max_steps=6", f"run.dir={tmp_path / 'r'}"])
    s = json.loads((run_pretrain(cfg) / "summary.json").read_text())
    assert math.isfinite(s["final_val_loss"]) and s["final_val_loss"] < s["initial_val_loss"]


@pytest.mark.slow
def test_compile_matches_eager(tiny_overrides, tmp_path):
    runs = {}
    for compile_ in ("false", "true"):
        cfg = load_config(tiny_overrides + [f"runtime.compile={compile_}", "train.max_steps=6",
                                            f"run.dir={tmp_path / compile_}"])
        runs[compile_] = json.loads((run_pretrain(cfg) / "summary.json").read_text())
    assert abs(runs["true"]["final_val_loss"] - runs["false"]["final_val_loss"]) < 1e-3
