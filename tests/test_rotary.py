"""Rotary positions (model.positions=rope): the rotation against a hand computation, attention that sees offsets only,
the sparse last block and MASS's decoder positions, resume, and exact export / import through ESM and RoFormer."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from maskbench.batch import Batch
from maskbench.config import config_hash, load_config
from maskbench.errors import MaskbenchError
from maskbench.models import build_model
from maskbench.models.layers import Attention
from maskbench.models.rotary import Rotary, rotate
from maskbench.models.rows import Rows
from maskbench.runs.rundir import read_metrics
from maskbench.train.pretrain import run_pretrain
from hf_models import assert_fill_mask_agrees  # noqa: E402

TOL = 1e-4
TINY = dict(d_model=16, n_layers=2, n_heads=2, d_ff=32, max_positions=64, positions="rope")


def test_rotation_is_the_hand_computed_one():
    """Pair i of a 4-wide head is dimensions (2i, 2i + 1), rotated by position * 10000^(-i/2)."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, 5, 4)
    got = rotate(x, Rotary(4, 16, 10000.0).first(5))
    want = torch.empty_like(x)
    for p in range(5):
        for i in range(2):
            a = p * 10000.0 ** (-2 * i / 4)
            u, v = x[0, 0, p, 2 * i].item(), x[0, 0, p, 2 * i + 1].item()
            want[0, 0, p, 2 * i] = u * math.cos(a) - v * math.sin(a)
            want[0, 0, p, 2 * i + 1] = v * math.cos(a) + u * math.sin(a)
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, x, atol=1e-3)  # it did rotate
    assert torch.allclose(rotate(x.bfloat16(), Rotary(4, 16, 10000.0).first(5)).float(), want, atol=3e-2)  # bf16 too


def test_attention_scores_depend_on_the_offset_alone():
    torch.manual_seed(0)
    rot = Rotary(8, 64, 10000.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(p, r):
        qp = rotate(q.view(1, 1, 1, 8), rot.at(torch.tensor([[p]])))
        kr = rotate(k.view(1, 1, 1, 8), rot.at(torch.tensor([[r]])))
        return float((qp * kr).sum())
    for offset in (0, 1, 5, -3):
        scores = [score(p, p + offset) for p in range(3, 20)]
        assert max(scores) - min(scores) < 1e-4
    assert abs(score(3, 4) - score(3, 9)) > 1e-3  # different offsets do differ
    # A whole attention layer: shifting every position by the same amount changes nothing.
    att = Attention(16, 2, 0.0).eval()
    x = torch.randn(2, 10, 16)
    rot16 = Rotary(8, 64, 10000.0)
    base = att(x, angles=rot16.first(10))
    shifted = att(x, angles=rot16.at(torch.arange(7, 17).expand(2, 10)))
    assert torch.allclose(base, shifted, atol=1e-5)
    assert not torch.allclose(base, att(x), atol=1e-3)  # and the rotation matters


def test_sparse_last_block_equals_the_dense_one_with_rope():
    torch.manual_seed(0)
    model = build_model(TINY, "encoder", 60).eval()
    ids = torch.randint(5, 60, (3, 20))
    mask = torch.rand(3, 20) < 0.3
    mask[:, 0] = True
    with torch.no_grad():
        dense = model.encoder(ids)[mask]
        sparse = model.encoder(ids, at=Rows.where(mask))
    assert torch.allclose(dense, sparse, atol=1e-5)


def test_rotary_models_have_no_position_table_and_the_decoder_reads_offsets():
    torch.manual_seed(0)
    enc = build_model(TINY, "encoder_decoder", 60).eval()
    assert enc.encoder.pos is None and enc.decoder.pos is None
    assert not any("pos" in n for n, _ in enc.named_parameters())
    memory = enc.encoder(torch.randint(5, 60, (2, 16)))
    frag = torch.randint(5, 60, (2, 5))
    at_3 = torch.arange(3, 8).expand(2, 5)
    with torch.no_grad():
        a, b = enc.decoder(frag, memory, positions=at_3), enc.decoder(frag, memory)
    assert torch.allclose(a, b, atol=1e-5)  # rotary self-attention sees offsets; cross-attention is unrotated
    learned = build_model(dict(TINY, positions="learned"), "encoder_decoder", 60).eval()
    with torch.no_grad():
        m = learned.encoder(torch.randint(5, 60, (2, 16)))
        assert not torch.allclose(learned.decoder(frag, m, positions=at_3), learned.decoder(frag, m), atol=1e-3)


def test_odd_head_width_and_an_offset_are_refused(tiny_overrides):
    with pytest.raises(MaskbenchError, match="make it even"):
        load_config(tiny_overrides + ["model.positions=rope", "model.d_model=30", "model.n_heads=2"])
    with pytest.raises(MaskbenchError, match="pos_offset"):
        load_config(tiny_overrides + ["model.positions=rope", "model.pos_offset=2"])


def test_learned_configs_keep_their_run_names(tiny_overrides):
    """positions=learned (every run before rotary positions) is left out of the hash; rope is in it."""
    learned = load_config(tiny_overrides)
    assert config_hash(learned) == config_hash(load_config(tiny_overrides + ["model.rope_theta=500"]))
    assert config_hash(learned) != config_hash(load_config(tiny_overrides + ["model.positions=rope"]))
    rope = load_config(tiny_overrides + ["model.positions=rope"])
    assert config_hash(rope) != config_hash(load_config(tiny_overrides + ["model.positions=rope", "model.rope_theta=500"]))


def _losses(run):
    return [(e["step"], e["loss"]) for e in read_metrics(run)]


@pytest.mark.parametrize("arch,corruption", [("encoder", "bert_mlm"), ("encoder_decoder", "mass_span")])
def test_rotary_resume_matches_uninterrupted(tiny_overrides, tmp_path, arch, corruption):
    over = tiny_overrides + ["model.positions=rope", f"arch={arch}", f"corruption={corruption}"]
    full = run_pretrain(load_config(over + [f"run.dir={tmp_path / 'full'}"]))
    cut = run_pretrain(load_config(over + [f"run.dir={tmp_path / 'cut'}"]))
    shutil.rmtree(cut / "checkpoints" / "final")
    (cut / "summary.json").unlink()
    kept = [line for line in (cut / "metrics.jsonl").read_text().splitlines() if json.loads(line)["step"] <= 13]
    (cut / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    run_pretrain(load_config(over + [f"run.dir={cut}", "train.resume=true"]))
    assert _losses(cut) == _losses(full)
    assert _losses(full)[-1][1] < _losses(full)[0][1]  # it learned something


# ---- across the transformers border ----------------------------------------------------------------------------

transformers = pytest.importorskip("transformers")

LAYOUTS = {  # maskbench layout -> the transformers class that computes the same function
    "esm": ["model.norm=pre", "model.n_segments=0"],
    "roformer": ["model.norm=post", "model.embed_norm=true", "model.ln_eps=1e-12"],
}


@pytest.fixture(scope="module")
def rotary_exports(tiny_overrides, tmp_path_factory):
    from maskbench.export.model import export_model

    root = tmp_path_factory.mktemp("rotary")
    out = {}
    for name, layout in LAYOUTS.items():
        run = run_pretrain(load_config(tiny_overrides + ["model.positions=rope", "model.mlm_transform=true",
                                                         *layout, f"run.dir={root / name}"]))
        out[name] = (run, export_model(run, root / f"{name}-hf"))
    return out


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_rotary_export_loads_with_auto_classes_and_equal_logits(rotary_exports, name):
    from maskbench.inspect.loading import load_checkpoint

    run, folder = rotary_exports[name]
    assert json.loads((folder / "config.json").read_text())["model_type"] == name
    hf = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    assert type(hf).__name__ == {"esm": "EsmForMaskedLM", "roformer": "RoFormerForMaskedLM"}[name]
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    texts = ["the river flows north of the city .", "a school was built in the village during the war ."]
    batch = tok(texts, padding=True, return_tensors="pt")
    m = load_checkpoint(run)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        ours = m.model.lm_head(m.model(Batch(input_ids=batch["input_ids"], labels=batch["input_ids"],
                                             pad_mask=~real)))
        theirs = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert ours.shape == theirs.shape
    assert float((ours - theirs)[real].abs().max()) < TOL


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_rotary_fill_mask_pipeline_gives_maskbench_fill(rotary_exports, name):
    run, folder = rotary_exports[name]
    assert_fill_mask_agrees(run, folder)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_rotary_export_imports_back_with_the_same_validation_loss(rotary_exports, tiny_overrides, tmp_path, name):
    run, folder = rotary_exports[name]
    final_val = [e for e in read_metrics(run) if e["split"] == "val"][-1]["loss"]
    again = run_pretrain(load_config(tiny_overrides + [f"init={folder}", f"run.dir={tmp_path / 'again'}",
                                                       "train.max_steps=2"]))
    start = [e for e in read_metrics(again) if e["split"] == "val"][0]
    assert start["step"] == 0 and start["loss"] == pytest.approx(final_val, abs=TOL)
    assert "positions: rope" in (again / "config.yaml").read_text()  # the folder's layout, written down


@pytest.mark.parametrize("name", ["esm", "roformer"])
def test_a_transformers_rotary_folder_imports_with_its_own_logits(corpus_file, tmp_path, name):
    from hf_models import bert_folder

    from maskbench.inspect.loading import load_checkpoint

    def build(v):
        if name == "esm":
            return transformers.EsmForMaskedLM(transformers.EsmConfig(
                vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                max_position_embeddings=128, position_embedding_type="rotary", emb_layer_norm_before=False,
                token_dropout=False, mask_token_id=7, pad_token_id=0, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0, rope_theta=500.0))
        return transformers.RoFormerForMaskedLM(transformers.RoFormerConfig(
            vocab_size=v, hidden_size=32, embedding_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
    folder = bert_folder(corpus_file, tmp_path / name, build=build)
    hf = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    m = load_checkpoint(folder)
    assert m.model.shape.positions == "rope"
    ids = torch.tensor([[5] + list(range(20, 40)) + [6], [5] + list(range(60, 80)) + [6]])
    with torch.no_grad():
        ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids)))
        theirs = hf(input_ids=ids).logits
    assert float((ours - theirs).abs().max()) < TOL


def test_rotary_layouts_without_a_class_are_one_line_and_write_nothing(tiny_overrides, tmp_path):
    from maskbench.export.model import export_model

    for name, extra in (("encdec", ["arch=encoder_decoder", "corruption=bart_infill"]),
                        ("segments", ["model.norm=pre", "model.n_segments=2", "model.mlm_transform=true"])):
        run = run_pretrain(load_config(tiny_overrides + ["model.positions=rope", *extra,
                                                         f"run.dir={tmp_path / name}"]))
        with pytest.raises(MaskbenchError) as err:
            export_model(run, tmp_path / f"{name}-hf")
        assert "\n" not in str(err.value) and ("rotary" in str(err.value) or "segment" in str(err.value))
        assert not (tmp_path / f"{name}-hf").exists()


def test_the_main_jobs_layout_exports_its_encoder_with_segment_0_folded(tiny_overrides, tmp_path):
    """Pre-LN rotary, a bare MLM head and two segments (experiment=reviews_pretrain's layout): the encoder goes to
    EsmModel, segment 0 folded into the word embeddings, the same states for single inputs."""
    from maskbench.export.model import export_model
    from maskbench.inspect.loading import load_checkpoint

    run = run_pretrain(load_config(tiny_overrides + ["model.positions=rope", "model.mlm_transform=false",
                                                     f"run.dir={tmp_path / 'run'}"]))
    folder = export_model(run, tmp_path / "hf")
    hf = transformers.AutoModel.from_pretrained(folder).eval()
    assert type(hf).__name__ == "EsmModel"
    m = load_checkpoint(run)
    ids = torch.tensor([[m.vocab.cls] + list(range(20, 40)) + [m.vocab.sep]])
    with torch.no_grad():
        ours = m.model(Batch(input_ids=ids, labels=ids))
        theirs = hf(input_ids=ids).last_hidden_state
    assert float((ours - theirs).abs().max()) < TOL
    assert m.model.encoder.seg.weight[0].abs().max() > 0  # there was a segment vector to fold
