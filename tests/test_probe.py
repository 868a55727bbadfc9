"""task.freeze=true (a probe): only the head learns, the features stay identical; task.probe_layer reads an
earlier layer; all four task shapes on both architectures."""

from __future__ import annotations

import json

import pytest
import torch
from test_finetune import ft_overrides, write_tasks

from maskbench.config import load_config
from maskbench.errors import MaskbenchError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("probe_tasks"))


@pytest.fixture(scope="module")
def pretrained(tiny_overrides, tmp_path_factory):
    from maskbench.train.pretrain import run_pretrain

    root = tmp_path_factory.mktemp("probe_pre")
    return {arch: run_pretrain(load_config(tiny_overrides + [f"arch={arch}", f"run.dir={root / arch}", "model.dropout=0.1",
                                                             f"corruption={'bert_mlm' if arch == 'encoder' else 'bart_infill'}",
                                                             "train.max_steps=4"]))
            for arch in ("encoder", "encoder_decoder")}


def _task_model(cfg):
    """The TaskModel and a training batch, built the way run_finetune builds them."""
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.models import build_model
    from maskbench.models.heads import TaskModel
    from maskbench.tasks.batching import FinetuneBatches
    from maskbench.tasks.loading import load_task
    from maskbench.train.finetune import resolve_init

    src = resolve_init(cfg)
    tok = load_tokenizer(src.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    data = load_task(cfg.task, tok, vocab, src.arch, cfg.data.cache_dir)
    net = build_model(src.model_cfg, src.arch, vocab.size)
    src.load_into(net)
    model = TaskModel(net, data.kind.sentence_level, data.kind.head_size(data.labels), 0.1,
                      freeze=bool(cfg.task.freeze), probe_layer=cfg.task.probe_layer)
    batch, _ = FinetuneBatches(data.train, 8, 0, data.kind, src.arch, vocab.pad).batch(0)
    return model, batch


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
@pytest.mark.parametrize("task", ["sst2", "nli", "pos", "qa"])
def test_a_frozen_probe_trains_only_its_head(tiny_overrides, files, pretrained, tmp_path, task, arch):
    from maskbench.train.optim import build_optimizer

    cfg = load_config(ft_overrides(tiny_overrides, task, files, arch) + [f"init={pretrained[arch]}", "task.freeze=true"],
                      root="finetune")
    model, batch = _task_model(cfg)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        features = model.features(batch).clone()
    opt = build_optimizer(model, cfg.train)
    assert {id(p) for g in opt.param_groups for p in g["params"]} == \
        {id(p) for n, p in model.named_parameters() if not n.startswith("backbone.")}
    for _ in range(3):
        out = model(batch)
        loss = out.float().pow(2).mean()  # any loss: what matters is which parameters move
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(not k.startswith("backbone.") for k in changed)
    assert any(k.startswith("head.") for k in changed)
    model.train()
    with torch.no_grad():
        assert torch.equal(model.features(batch), features)  # identical frozen features (dropout off too)


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
def test_probe_layer_reads_the_encoder_after_k_blocks(tiny_overrides, files, pretrained, arch):
    cfg = load_config(ft_overrides(tiny_overrides, "pos", files, arch) + [f"init={pretrained[arch]}", "task.freeze=true",
                                                                         "task.probe_layer=1"], root="finetune")
    model, batch = _task_model(cfg)
    model.eval()
    with torch.no_grad():
        enc = model.backbone.encoder
        x = enc.embed(batch.input_ids, batch.token_type_ids)
        from maskbench.models.layers import key_padding_mask

        want = enc.blocks[0](x, self_mask=key_padding_mask(batch.pad_mask))
        assert torch.allclose(model.features(batch), want)
    bad = load_config(ft_overrides(tiny_overrides, "pos", files, arch) + [f"init={pretrained[arch]}",
                                                                         "task.probe_layer=9"], root="finetune")
    with pytest.raises(MaskbenchError, match="probe_layer=9: this encoder has layers 0"):
        _task_model(bad)


def test_a_probe_run_end_to_end(tiny_overrides, files, pretrained, tmp_path):
    from maskbench.train.finetune import run_finetune

    cfg = load_config(ft_overrides(tiny_overrides, "sst2", files, "encoder") + [
        f"init={pretrained['encoder']}", "task.freeze=true", "task.probe_layer=2", f"run.dir={tmp_path / 'p'}",
        "train.lr=1e-2"], root="finetune")
    s = json.loads((run_finetune(cfg) / "summary.json").read_text())
    assert s["freeze"] is True and s["probe_layer"] == 2
    assert s["final_eval"]["loss"] < s["initial_eval"]["loss"]
