"""The user's own configs (./conf, --config-dir) and misspelled keys that get a suggestion."""

import subprocess
import sys

import pytest

from maskbench.config import group_options, load_config
from maskbench.errors import MaskbenchError

MINE = "# @package _global_\ndefaults:\n  - override /model: tiny\ntrain:\n  max_steps: 7\n"


def test_conf_in_the_working_directory_composes(tmp_path, monkeypatch):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(MINE)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(["experiment=mine"])
    assert cfg.train.max_steps == 7 and cfg.model.name == "tiny"
    assert "mine" in group_options("experiment") and "debug" in group_options("experiment")


def test_a_users_config_of_the_same_name_replaces_the_packaged_one(tmp_path, monkeypatch):
    from maskbench.config import config_sources

    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "debug.yaml").write_text("# @package _global_\ntrain:\n  max_steps: 77\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASKBENCH_CONFIG_DIR", raising=False)
    cfg = load_config(["experiment=debug"])
    assert cfg.train.max_steps == 77 and cfg.model.name == "mini"  # theirs, not the packaged debug (tiny, 20 steps)
    assert config_sources(cfg, ["experiment=debug"])["experiment"] == str(tmp_path / "conf" / "experiment" / "debug.yaml")
    monkeypatch.chdir(tmp_path.parent)
    assert load_config(["experiment=debug"]).train.max_steps == 20  # elsewhere, the packaged one


def test_config_dir_option(tmp_path):
    (tmp_path / "mine_confs" / "experiment").mkdir(parents=True)
    (tmp_path / "mine_confs" / "experiment" / "mine.yaml").write_text(MINE)
    proc = subprocess.run([sys.executable, "-m", "maskbench", "--config-dir", str(tmp_path / "mine_confs"), "config",
                           "show", "experiment=mine"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "max_steps: 7" in proc.stdout
    # config show says where each group came from: the user's preset, the packaged tiny model
    assert f"# experiment: {tmp_path / 'mine_confs' / 'experiment' / 'mine.yaml'}" in proc.stdout
    assert "# model: " in proc.stdout and proc.stdout.split("# model: ")[1].split()[0].endswith("conf/model/tiny.yaml")


def test_config_show_takes_a_task_on_a_pretraining_preset(tmp_path):
    """`config show experiment=debug task=sst2` composes the fine-tuning config (the task is the user's)."""
    from maskbench.config import config_sources, root_for

    assert root_for(["experiment=debug", "task=sst2"]) == "finetune" and root_for(["experiment=debug"]) == "pretrain"
    cfg = load_config(["experiment=debug", "task=sst2"], root="finetune")
    assert cfg.task.name == "sst2" and config_sources(cfg)["task"].endswith("conf/task/sst2.yaml")


def test_the_shipped_example_composes(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    assert load_config(["experiment=example"]).train.max_steps == 50


def test_a_preset_naming_an_option_that_is_not_there_is_one_line(tmp_path, monkeypatch):
    """Hydra finds the missing option (the command line's own are checked before composing): its config path,
    GROUP/OPTION, becomes the line naming the group's options. A YAML's default that is no group's option (a
    plain file that is not there) stays the general line, naming the file."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "gone.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: "
                                                                "nope\n")
    (tmp_path / "conf" / "model" / "from_gone.yaml").write_text("defaults:\n  - /nothere/base@_here_\n  - _self_\n"
                                                                "name: from_gone\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASKBENCH_CONFIG_DIR", raising=False)
    with pytest.raises(MaskbenchError) as err:
        load_config(["experiment=gone"])
    assert str(err.value) == f"unknown model 'nope': choose one of {', '.join(group_options('model'))}"
    with pytest.raises(MaskbenchError) as err:
        load_config(["model=from_gone"])
    assert str(err.value) == ("bad config override (In 'model/from_gone': Could not load 'nothere/base'.): overrides "
                              "look like key=value or group=option")


@pytest.mark.parametrize("wrong, meant, root", [
    ("train.max_step=10", "train.max_steps", "pretrain"), ("model.dmodel=3", "model.d_model", "pretrain"),
    ("data.seqlen=3", "data.seq_len", "pretrain"), ("corruption.mask_probb=0.1", "corruption.mask_prob", "pretrain"),
    ("trian.lr=1", "train.lr", "pretrain"), ("runtime.precison=fp32", "runtime.precision", "pretrain"),
    ("data.vocabsize=9", "data.vocab_size", "pretrain"), ("train.batchsize=9", "train.batch_size", "pretrain"),
    ("task.labelfield=x", "task.label_field", "finetune"), ("compare.seed=[1]", "compare.seeds", "finetune")])
def test_a_misspelled_key_gets_the_nearest_one(wrong, meant, root):
    with pytest.raises(MaskbenchError, match=f"did you mean {meant}\\?"):
        load_config([wrong], root=root)


def test_sweep_presets_compose_with_every_finetuning_they_plan():
    """Each packaged sweep preset: its pretraining config and, per task, the fine-tuning config the sweep will
    build (sweep.finetune plus the task's own overrides) are valid before anything runs."""
    from maskbench.config import CONF_DIR, load_config
    from maskbench.train.sweep_point import finetune_overrides

    checked = 0
    for preset in sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")):  # the packaged presets
        cfg = load_config([f"experiment={preset}"], root=root_for_preset(preset))
        if not cfg.sweep or not cfg.sweep.tasks:
            continue
        for task in cfg.sweep.tasks:
            ft = load_config([f"task={task}"] + finetune_overrides(cfg, task), root="finetune")
            assert ft.task.name == task
        checked += 1
    assert checked >= 2  # compare_objectives and compare_objectives_gpu
    cfg = load_config(["experiment=compare_objectives"])
    probe = load_config(["task=pos_probe"] + finetune_overrides(cfg, "pos_probe"), root="finetune")
    assert probe.task.freeze and probe.train.lr == 5e-3 and probe.task.train_size == 1000
    assert list(cfg.sweep.finetune_seeds) == [0, 1, 2] and cfg.model.name == "bert_tiny" and cfg.model.d_model == 128
    assert cfg.train.budget_unit == "flops" and cfg.train.budget == 5.0e13  # objectives compared at equal compute


def root_for_preset(preset: str) -> str:
    """Compare presets set task/compare keys and compose under the fine-tuning root."""
    from maskbench.config import CONF_DIR

    text = (CONF_DIR / "experiment" / f"{preset}.yaml").read_text()
    return "finetune" if any(line.startswith(("task:", "compare:")) for line in text.splitlines()) else "pretrain"
