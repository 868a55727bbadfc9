"""ELECTRA across the border: a run in BERT's post-LN layout exports as ElectraForPreTraining (discriminator) +
ElectraForMaskedLM (generator/), with maskbench's logits on real text; the pre-LN default says in one line why it
exports the encoder alone; a transformers ELECTRA discriminator imports with its own logits."""

import json

import pytest
import torch

from maskbench.config import load_config
from maskbench.train.pretrain import run_pretrain

transformers = pytest.importorskip("transformers")
from hf_models import electra_folder  # noqa: E402

POST_LN = ["model.norm=post", "model.embed_norm=true"]
TEXT = ["The river runs to the south of the city.", "A new school was built in the village after the war."]


@pytest.fixture(scope="module")
def electra_runs(tiny_overrides, tmp_path_factory):
    root = tmp_path_factory.mktemp("electra-runs")
    over = tiny_overrides + ["corruption=electra", "train.max_steps=20"]
    return {"post": run_pretrain(load_config(over + POST_LN + [f"run.dir={root / 'post'}"])),
            "pre": run_pretrain(load_config(over + [f"run.dir={root / 'pre'}"]))}


def _maskbench_electra(run):
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.runs.source import resolve_source

    src = resolve_source(run)
    tok = load_tokenizer(src.tokenizer_path)
    return src.pretraining_model(src.own_model_corruption(), Vocab.from_tokenizer(tok).size)


def test_post_ln_electra_run_exports_discriminator_and_generator(electra_runs, tmp_path):
    from maskbench.export.model import export_model

    out = export_model(electra_runs["post"], tmp_path / "hf")
    disc = transformers.AutoModelForPreTraining.from_pretrained(str(out)).eval()
    gen = transformers.AutoModelForMaskedLM.from_pretrained(str(out / "generator")).eval()
    assert type(disc).__name__ == "ElectraForPreTraining" and type(gen).__name__ == "ElectraForMaskedLM"
    assert json.loads((out / "generator" / "config.json").read_text())["hidden_size"] == 8  # a quarter of 32
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    enc = tok(TEXT, padding=True, return_tensors="pt")
    ours = _maskbench_electra(electra_runs["post"])
    pad = enc["attention_mask"] == 0
    with torch.no_grad():
        states = ours.encoder(enc["input_ids"], pad, enc["token_type_ids"])
        rtd = ours.rtd_head(states).squeeze(-1)
        theirs = disc(**enc).logits
        assert float((rtd - theirs)[~pad].abs().max()) < 1e-4
        g = ours.generator.lm_head(ours.generator(ours.encoder.embed(enc["input_ids"], enc["token_type_ids"]),
                                                  _key_mask(pad)))
        assert float((g - gen(**enc).logits)[~pad].abs().max()) < 1e-4


def _key_mask(pad):
    from maskbench.models.layers import key_padding_mask

    return key_padding_mask(pad)


def test_pre_ln_electra_run_exports_its_encoder_and_says_why(electra_runs, tmp_path, capsys):
    from rich.console import Console

    from maskbench.export.model import export_model

    out = export_model(electra_runs["pre"], tmp_path / "hf", Console(width=400))
    said = capsys.readouterr().out
    assert "as MegatronBertModel" in said and "no transformers ELECTRA class" in said
    assert not (out / "generator").exists()


def test_a_transformers_electra_discriminator_imports_with_its_own_logits(corpus_file, tmp_path):
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.errors import MaskbenchError
    from maskbench.inspect.loading import load_checkpoint
    from maskbench.corruption.registry import build_pretraining_model
    from maskbench.runs.source import resolve_source

    folder = electra_folder(corpus_file, tmp_path / "electra")
    src = resolve_source(folder)
    vocab = Vocab.from_tokenizer(load_tokenizer(src.tokenizer_path))
    from maskbench.config.schema.corruption import ElectraRTD

    corruption = ElectraRTD(family="electra", generator_size=0.25, disc_weight=50.0)
    model = build_pretraining_model(src.model_cfg, src.arch, vocab.size, corruption).eval()
    src.load_into(model)
    hf = transformers.ElectraForPreTraining.from_pretrained(str(folder)).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    enc = tok(TEXT, padding=True, return_tensors="pt")
    pad = enc["attention_mask"] == 0
    with torch.no_grad():
        ours = model.rtd_head(model.encoder(enc["input_ids"], pad, enc.get("token_type_ids"))).squeeze(-1)
        assert float((ours - hf(**enc).logits)[~pad].abs().max()) < 1e-4
    with pytest.raises(MaskbenchError, match="no trained MLM head"):  # a discriminator cannot fill blanks
        load_checkpoint(folder, what="fill")


def test_fill_on_an_electra_run_uses_its_generator(electra_runs):
    from typer.testing import CliRunner

    from maskbench.cli import app
    from maskbench.inspect.loading import load_checkpoint
    from maskbench.models.electra import GeneratorMLM

    loaded = load_checkpoint(electra_runs["post"], what="fill")
    assert isinstance(loaded.model, GeneratorMLM)
    ours = _maskbench_electra(electra_runs["post"])
    assert torch.equal(loaded.model.lm_head.bias, ours.generator.lm_head.bias)  # the trained generator's head
    res = CliRunner().invoke(app, ["fill", str(electra_runs["post"]), "the river [MASK] to the south .", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["blanks"][0]) == 5


def test_corrupt_shows_and_measures_electras_replacements(electra_runs, tiny_overrides):
    from typer.testing import CliRunner

    from maskbench.cli import app

    over = tiny_overrides + ["corruption=electra", *POST_LN]
    res = CliRunner().invoke(app, ["corrupt", *over, "--stats", "--json", "--model", str(electra_runs["post"])])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert abs(stats["selected_frac"] - 0.15) < 0.01 and stats["specials_touched"] == 0
    # replaced = selected - sampled equal to the original (each a share of the same tokens)
    assert stats["replaced_frac"] + stats["sampled_same_frac"] == pytest.approx(stats["selected_frac"], abs=2e-4)
    assert stats["sampled_same_frac"] > 0  # 20 steps on this corpus: the generator already guesses some
    shown = CliRunner().invoke(app, ["corrupt", *over, "--text", "the river runs to the south of the city ."])
    assert shown.exit_code == 0 and "discriminator input" in shown.stdout and "p(replaced)" in shown.stdout
    wrong = CliRunner().invoke(app, ["corrupt", *tiny_overrides, "--model", str(electra_runs["post"])])
    assert wrong.exit_code == 2 and "--model goes with an objective that samples from a model of its own" in wrong.output
