"""Typed configs (maskbench/config/schema/): values get their declared types, checks sit next to fields, derived
values are properties, the schemas are in Hydra's ConfigStore, and a user's YAML is checked like ours."""

from __future__ import annotations

import os

import pytest

from maskbench.config import load_config
from maskbench.errors import MaskbenchError


def test_values_get_their_declared_types():
    cfg = load_config(["train.lr=1", "model.dropout=0", "train.max_steps=12"])
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1.0
    assert isinstance(cfg.model.dropout, float) and isinstance(cfg.train.max_steps, int)
    assert load_config(["data.lowercase=false"]).data.lowercase is False


def test_derived_values_are_properties():
    cfg = load_config(["data.seq_len=64", "train.max_steps=200", "train.warmup_steps=0.1"])
    assert cfg.data.content_len == 62
    assert cfg.train.warmup == 20
    assert load_config(["train.warmup_steps=7"]).train.warmup == 7


def test_each_corruption_family_and_task_kind_has_its_schema():
    from maskbench.config.schema.corruption import BartNoise, BertMasking, T5Span
    from maskbench.tasks.qa import QATask
    from maskbench.tasks.tagging import TaggingTask

    assert isinstance(load_config(["corruption=bert_mlm"]).corruption, BertMasking)
    bart = load_config(["corruption=bart_infill", "arch=encoder_decoder"])
    assert isinstance(bart.corruption, BartNoise)
    assert isinstance(load_config(["corruption=t5_span", "arch=encoder_decoder"]).corruption, T5Span)
    assert isinstance(load_config(["task=qa"], root="finetune").task, QATask)
    assert isinstance(load_config(["task=pos"], root="finetune").task, TaggingTask)
    with pytest.raises(MaskbenchError, match="corruption.mask_token_prob"):  # a field the t5 schema lacks
        load_config(["corruption=t5_span", "arch=encoder_decoder", "+corruption.mask_token_prob=0.5"])


def test_a_task_kind_gives_its_format_and_metric_when_left_out():
    for task, fmt, metric in (("pos", "conllu", "token_accuracy"), ("qa", "squad", "f1"), ("sst2", "tsv", "accuracy")):
        cfg = load_config([f"task={task}", "task.format=null", "task.metric=null"], root="finetune")
        assert (cfg.task.format, cfg.task.metric) == (fmt, metric)
    with pytest.raises(MaskbenchError, match="task.format=tsv does not fit a tagging task"):
        load_config(["task=pos", "task.format=tsv"], root="finetune")


def test_schemas_are_in_the_config_store():
    from hydra.core.config_store import ConfigStore

    load_config([])
    repo = ConfigStore.instance().repo["schema"]
    assert {"model", "data", "train", "runtime", "run", "corruption", "task", "compare", "sweep"} <= set(repo)
    assert {"bert.yaml", "span.yaml", "mass.yaml", "t5.yaml", "bart.yaml"} <= set(repo["corruption"])
    assert {"classification.yaml", "pair_classification.yaml", "tagging.yaml", "qa.yaml"} <= set(repo["task"])


def test_a_users_preset_is_checked_like_the_packaged_ones(tmp_path, monkeypatch):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "typo.yaml").write_text(
        "# @package _global_\ntrain:\n  max_step: 5\n")
    (tmp_path / "conf" / "experiment" / "badtype.yaml").write_text(
        "# @package _global_\nmodel:\n  d_model: wide\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASKBENCH_CONFIG_DIR", raising=False)
    with pytest.raises(MaskbenchError) as err:
        load_config(["experiment=typo"])
    assert "train.max_step" in str(err.value) and "train.max_steps" in str(err.value)
    with pytest.raises(MaskbenchError, match=r"model.d_model=wide must be an integer"):
        load_config(["experiment=badtype"])
    assert os.getcwd() == str(tmp_path)


def test_a_users_model_can_extend_the_schema(tmp_path, monkeypatch):
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "narrow.yaml").write_text(
        "defaults:\n  - /schema/model/default@_here_\n  - _self_\nname: narrow\nd_model: 64\nn_heads: 2\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(["model=narrow"])
    assert (cfg.model.name, cfg.model.d_model, cfg.model.n_layers, cfg.model.ln_eps) == ("narrow", 64, 4, 1e-5)


def test_a_key_a_users_model_adds_to_the_schema_is_named_from_the_root(tmp_path, monkeypatch):
    """OmegaConf refuses the key while Hydra composes (the YAML extends the typed schema); its error, chained to
    Hydra's, names the key as model.KEY: the line says that, not the schema class (ModelConfig.KEY)."""
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "narrow.yaml").write_text(
        "defaults:\n  - /schema/model/default@_here_\n  - _self_\nname: narrow\nd_modle: 64\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASKBENCH_CONFIG_DIR", raising=False)
    with pytest.raises(MaskbenchError) as err:
        load_config(["model=narrow"])
    assert str(err.value) == ("unknown config option 'model.d_modle' (did you mean model.d_model?): see "
                              "`maskbench config show`")


def test_load_config_returns_the_typed_frozen_config_and_with_changes_checks_the_copy():
    import dataclasses

    from omegaconf import OmegaConf

    from maskbench.config import config_hash, to_yaml, validate_config, with_changes
    from maskbench.config.schema import FinetuneConfig, PretrainConfig

    cfg = load_config(["experiment=debug"])
    assert isinstance(cfg, PretrainConfig) and isinstance(load_config(["task=pos"], root="finetune"), FinetuneConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.corruption.mask_prob = 0.5
    longer = with_changes(cfg, train={"max_steps": 50})
    assert longer.train.max_steps == 50 and cfg.train.max_steps == 20 and isinstance(longer.train.max_steps, int)
    with pytest.raises(MaskbenchError, match="train.max_steps=0"):
        with_changes(cfg, train={"max_steps": 0})
    # config.yaml read back is the same config: the same hash, the same run folder
    again = validate_config(OmegaConf.create(to_yaml(cfg)))
    assert again == cfg and config_hash(again) == config_hash(cfg)
    assert list(OmegaConf.create(to_yaml(cfg)))[:4] == ["seed", "init", "corruption", "arch"]  # the objective first
    ft = load_config(["task=pos"], root="finetune")
    assert ft.sweep is None and "sweep" not in to_yaml(ft) and validate_config(OmegaConf.create(to_yaml(ft))) == ft
    with pytest.raises(MaskbenchError, match="unknown config option 'sede' \\(did you mean seed\\?\\)"):
        validate_config(OmegaConf.merge(OmegaConf.create(to_yaml(cfg)), {"sede": 1}))
