"""Config composition and validation: every shipped option composes; bad input is one clear line."""

import pytest

from maskbench.config import group_options, load_config
from maskbench.runs.rundir import RunDir
from maskbench.errors import MaskbenchError

ENCODER_OK = {"bert_mlm", "bert_mlm_40", "bert_mlm_nsp", "span_mlm", "electra", "gpt_bert"}
ENCODER_ONLY = {"electra", "gpt_bert"}


@pytest.mark.parametrize("corruption", group_options("corruption"))
@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
def test_every_corruption_arch_pair_composes_or_says_what_fits(corruption, arch):
    if arch == "encoder" and corruption not in ENCODER_OK:
        with pytest.raises(MaskbenchError) as err:
            load_config([f"corruption={corruption}", f"arch={arch}"])
        msg = str(err.value)
        assert "arch=encoder_decoder" in msg and corruption in msg and "\n" not in msg
    elif arch == "encoder_decoder" and corruption in ENCODER_ONLY:
        with pytest.raises(MaskbenchError) as err:
            load_config([f"corruption={corruption}", f"arch={arch}"])
        assert "arch=encoder" in str(err.value) and "\n" not in str(err.value)
    else:
        cfg = load_config([f"corruption={corruption}", f"arch={arch}"])
        assert cfg.corruption.name == corruption  # the file name and the `name:` agree


@pytest.mark.parametrize("group", ["model", "experiment", "data", "train", "runtime"])
def test_every_shipped_option_composes(group):
    for option in group_options(group):
        try:
            cfg = load_config([f"{group}={option}"])
        except MaskbenchError as exc:  # a fine-tuning preset (sets task/compare) composes under `finetune`
            assert group == "experiment" and "fine-tuning preset" in str(exc), str(exc)
            cfg = load_config([f"{group}={option}"], root="finetune")
            assert cfg.task.name and cfg.compare.pretrain
        assert cfg.model.d_model % cfg.model.n_heads == 0


def test_model_sizes_have_the_documented_knobs():
    base = load_config(["model=base"]).model
    assert (base.d_model, base.n_layers, base.n_heads, base.d_ff) == (768, 12, 12, 3072)
    assert load_config(["model=mini", "model.n_decoder_layers=2"]).model.n_decoder_layers == 2


@pytest.mark.parametrize("overrides, needle", [
    (["corruption=nope"], "unknown corruption 'nope': choose one of"),
    (["train.nope=1"], "unknown config option 'train.nope'"),
    (["corruption.mask_prob=1.5"], "corruption.mask_prob=1.5 is not a probability"),
    (["corruption.mask_prob=-0.1"], "is not a probability"),
    (["corruption.mask_token_prob=0.95"], "must sum to at most 1"),
    (["corruption=bert_mlm,span_mlm"], "maskbench sweep"),
    (["model.n_heads=5"], "not divisible"),
    (["data.paths=foo.txt"], "data.paths=foo.txt must be a list: write data.paths=[foo.txt]"),
])
def test_bad_config_is_one_line(overrides, needle):
    with pytest.raises(MaskbenchError) as err:
        load_config(overrides)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_config_is_frozen_and_run_dir_is_stable():
    cfg = load_config(["experiment=debug"])
    with pytest.raises(Exception):
        cfg.train.max_steps = 5  # configs are never mutated as runtime state
    again = load_config(["experiment=debug", "train.resume=true", "runtime.device=cpu"])
    assert RunDir.for_pretraining(cfg).path == RunDir.for_pretraining(again).path  # resume finds the same folder
    other = load_config(["experiment=debug", "train.lr=0.1"])
    assert RunDir.for_pretraining(cfg).path != RunDir.for_pretraining(other).path


def test_experiment_preset_and_cli_precedence():
    cfg = load_config(["experiment=debug"])
    assert cfg.model.name == "tiny" and cfg.train.max_steps == 20
    cfg = load_config(["experiment=debug", "model=mini", "train.max_steps=7"])
    assert cfg.model.name == "mini" and cfg.train.max_steps == 7


def test_a_corruption_without_an_arch_takes_its_own_architecture():
    """`arch` defaults to the encoder; a corruption that cannot run there brings its own architecture (so
    `sweep corruption=bart_infill,mass_span,bart_rotate` runs as written), unless `arch=` is named."""
    assert load_config(["corruption=bart_infill"]).arch.name == "encoder_decoder"
    assert load_config(["experiment=debug", "corruption=mass_span"]).arch.name == "encoder_decoder"
    assert load_config(["corruption=span_mlm"]).arch.name == "encoder"  # fits the default: kept
    with pytest.raises(MaskbenchError, match="needs arch=encoder_decoder"):
        load_config(["corruption=t5_span", "arch=encoder"])


def test_composing_and_checking_configs_leaves_torch_unimported():
    """Config and schema are torch-free (fast `config show`, light tools): checked in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys\nfrom maskbench.config import load_config\n"
            "load_config(['experiment=debug'])\nload_config(['task=pos', 'arch=encoder_decoder'], root='finetune')\n"
            "load_config(['corruption=ul2', 'arch=encoder_decoder'])\nload_config(['corruption.mask_schedule=linear', "
            "'corruption.mask_prob_end=0.1'])\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
