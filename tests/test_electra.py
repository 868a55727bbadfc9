"""ELECTRA replaced-token detection: the loss equals a hand-computed reference on a tiny batch, samples never
reach the discriminator's gradient, the run trains and resumes exactly, and fine-tuning reads the discriminator."""

from __future__ import annotations

import json
import shutil

import torch
import torch.nn.functional as F

from maskbench.config import load_config
from maskbench.models.electra import ElectraPretrainModel, generator_sizes
from maskbench.runs.checkpoint import load_weights
from maskbench.train.pretrain import run_pretrain


def pretrain(overrides, run_dir, *extra):
    return run_pretrain(load_config(overrides + [f"run.dir={run_dir}", *extra]))


def losses(run):
    return [(e["step"], e["loss"]) for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def test_generator_is_a_fraction_of_the_discriminator():
    assert generator_sizes(256, 4, 1024, 0.25) == (64, 1, 256)  # ELECTRA-Small's generator
    assert generator_sizes(128, 2, 512, 0.5) == (64, 1, 256)
    assert generator_sizes(128, 2, 512, 0.25) == (32, 1, 128)
    assert generator_sizes(32, 2, 64, 0.1) == (8, 1, 6)  # never below one head, 8 wide


def test_loss_matches_a_hand_computed_reference(tiny_setup):
    cfg, _, _, vocab, _ = tiny_setup
    torch.manual_seed(0)
    model = ElectraPretrainModel(cfg.model, vocab.size, generator_size=0.5, disc_weight=50.0)
    model.forbid_samples(vocab.text_ids())
    shared = model.generator.lm_head.projection
    assert shared is model.encoder.tok.weight  # generator and discriminator share the token embedding
    from maskbench.batch import Batch

    text = torch.tensor([[vocab.cls, 40, 41, 42, 43, 44, vocab.sep], [vocab.cls, 50, 51, 52, vocab.sep, 0, 0]])
    text[1, 5:] = vocab.pad
    labels = torch.full_like(text, -100)
    ids = text.clone()
    for r, c in ((0, 2), (0, 4), (1, 1)):
        labels[r, c], ids[r, c] = text[r, c], vocab.mask
    pad = text == vocab.pad
    batch = Batch(input_ids=ids, labels=labels, pad_mask=pad)
    state = torch.random.get_rng_state()
    terms = model.electra_terms(batch)
    # The reference, by hand: generator MLM at the three masked positions, Gumbel-max samples with the same
    # random numbers, the discriminator on the sampled input, BCE over the 12 non-padding positions.
    torch.random.set_rng_state(state)
    sel = labels != -100
    emb = model.encoder.embed(ids)
    mask = (~pad)[:, None, None, :]
    h = model.generator(emb, mask)[sel]
    logits = h @ model.encoder.tok.weight.T + model.generator.lm_head.bias
    gen = F.cross_entropy(logits, labels[sel], reduction="sum")
    u = torch.rand_like(logits).clamp(1e-9, 1 - 1e-9)
    allowed = torch.full((vocab.size,), float("-inf"))
    allowed[vocab.text_ids()] = 0.0
    sampled = (logits + allowed - torch.log(-torch.log(u))).argmax(-1)
    disc_ids = ids.clone()
    disc_ids[sel] = sampled
    replaced = torch.zeros_like(sel)
    replaced[sel] = sampled != labels[sel]
    z = model.rtd_head(model.encoder(disc_ids, pad)[~pad]).squeeze(-1)
    bce = F.binary_cross_entropy_with_logits(z, replaced[~pad].float(), reduction="sum")
    assert torch.allclose(terms["mlm"][0], gen, atol=1e-5) and int(terms["mlm"][1]) == 3
    assert torch.allclose(terms["rtd"][0], bce, atol=1e-5) and int(terms["rtd"][1]) == 12
    assert terms["rtd"][3] == 50.0 and terms["replaced"][3] == 0.0
    assert int(terms["replaced"][0]) == int(replaced.sum())
    assert not set(disc_ids[sel].tolist()) & set(vocab.special_ids)  # never a special token sampled
    assert not {int(t) for t in disc_ids[~pad & ~sel]} - {int(t) for t in text[~pad & ~sel]}  # only sampled spots move
    # No gradient through the sampling: the discriminator loss alone gives the generator's blocks none.
    terms["rtd"][0].backward()
    assert all(p.grad is None or not p.grad.any() for p in model.generator.blocks.parameters())
    assert model.rtd_head[0].weight.grad.abs().sum() > 0


def test_electra_trains_resumes_exactly_and_finetunes_from_the_discriminator(tiny_overrides, tmp_path):
    full = pretrain(tiny_overrides, tmp_path / "full", "corruption=electra")
    events = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    val = [e for e in events if e["split"] == "val"]
    for key in ("mlm_loss", "mlm_acc", "rtd_loss", "rtd_acc", "replaced_share"):
        assert key in val[-1], key
    assert 0.05 < val[-1]["replaced_share"] < 0.2  # at most the 15% selected, less the samples equal to the original
    assert val[-1]["loss"] < val[0]["loss"]
    cut = pretrain(tiny_overrides, tmp_path / "cut", "corruption=electra")
    shutil.rmtree(cut / "checkpoints" / "final")
    (cut / "summary.json").unlink()
    kept = [line for line in (cut / "metrics.jsonl").read_text().splitlines() if json.loads(line)["step"] <= 13]
    (cut / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    pretrain(tiny_overrides, cut, "corruption=electra", "train.resume=true")
    assert losses(cut) == losses(full)
    # A plain encoder (what fine-tuning builds) takes the discriminator and leaves the generator out.
    from maskbench.models import build_model
    from safetensors.torch import load_file

    cfg = load_config(tiny_overrides + ["corruption=electra"])
    saved = load_file(str(full / "checkpoints" / "final" / "model.safetensors"))
    assert any(k.startswith("generator.") for k in saved) and any(k.startswith("rtd_head.") for k in saved)
    enc = build_model(cfg.model, "encoder", saved["encoder.tok.weight"].shape[0])
    load_weights(enc, full / "checkpoints" / "final")
    assert torch.equal(enc.encoder.blocks[0].ffn.up.weight, saved["encoder.blocks.0.ffn.up.weight"])


def test_electra_flops_count_the_generator(tiny_overrides, tmp_path):
    bert = json.loads((pretrain(tiny_overrides, tmp_path / "b") / "summary.json").read_text())
    el = json.loads((pretrain(tiny_overrides, tmp_path / "e", "corruption=electra") / "summary.json").read_text())
    ratio = el["budget"]["flops_per_step"] / bert["budget"]["flops_per_step"]
    assert 1.05 < ratio < 1.6  # the discriminator's head at every position plus a quarter-size generator
