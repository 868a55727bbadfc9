"""Inputs a hostile or unlucky user can have, past what the property tests generate: files edited by hand (a run's
config.yaml, a transformers config.json), a user's own objective that raises or returns the wrong tensors, a
built-in objective widened to an architecture it cannot run, bench_quality's arguments. Each ends in one specific
line (exit 2) that names the problem and a fix that applies, never a traceback or the internal-error line."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from maskbench.cli import app
from maskbench.config import load_config

RUNNER = CliRunner()


def one_line(result, code: int = 2) -> str:
    err = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, err, repr(result.exception))
    assert 1 <= len(err.splitlines()) <= 3, err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


@pytest.fixture(scope="module")
def run(tiny_overrides, tmp_path_factory):
    from maskbench.train.pretrain import run_pretrain

    return run_pretrain(load_config(tiny_overrides + ["train.max_steps=2",
                                                      f"run.dir={tmp_path_factory.mktemp('guarantee') / 'run'}"]))


# ------------------------------------------------------------------ a run's config.yaml edited by hand
EDITS = {"n_heads: 0": "model.n_heads=0 must be an integer >= 1",          # was ZeroDivisionError
         "n_heads: -2": "model.n_heads=-2 must be an integer >= 1",        # was torch's invalid shape
         "d_model: abc": "model.d_model=abc must be an integer",           # was OmegaConf's ValidationError
         "positions: rotary": "model.positions=rotary is unknown",         # was a learned table, silently
         "rope_theta: 0": "model.rope_theta=0.0 must be a number > 1.0",
         "d_model: 31": "model.d_model=31 is not divisible by model.n_heads=2"}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_model_config_is_one_line_naming_the_file(run, tmp_path, edit):
    key, value = edit.split(": ")
    copy = shutil.copytree(run, tmp_path / "run")
    cfg = copy / "checkpoints" / "final" / "config.yaml"
    lines = cfg.read_text().splitlines()
    at = lines.index("model:")
    lines = lines[:at + 1] + [f"  {key}: {value}"] + [x for x in lines[at + 1:] if not x.startswith(f"  {key}:")]
    cfg.write_text("\n".join(lines) + "\n")
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b .\tb a .\n")
    for args in (["fill", str(copy), "the [MASK] ."], ["score", str(copy), "--pairs", str(tsv)]):
        err = one_line(RUNNER.invoke(app, args))
        assert EDITS[edit] in err and f"{copy}/checkpoints/final/config.yaml" in err and "restore it" in err, err


def test_a_weight_refusal_names_the_users_checkpoint_not_its_private_copy(run, tmp_path):
    copy = shutil.copytree(run, tmp_path / "run")
    cfg = copy / "checkpoints" / "final" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  d_model: 32\n", "  d_model: 64\n"))
    err = one_line(RUNNER.invoke(app, ["fill", str(copy), "the [MASK] ."]))
    assert f"checkpoint {copy}/checkpoints/final weight" in err and "maskbench-held" not in err, err


# ------------------------------------------------------------------ a transformers folder's config.json
@pytest.fixture(scope="module")
def esm_folder(corpus_file, tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from hf_models import bert_folder

    def build(v):
        return transformers.EsmForMaskedLM(transformers.EsmConfig(
            vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=128, position_embedding_type="rotary", emb_layer_norm_before=False,
            token_dropout=False, mask_token_id=7, pad_token_id=0, rope_theta=500.0))
    return bert_folder(corpus_file, tmp_path_factory.mktemp("esm") / "esm", build=build)


CONFIG_JSON = {  # config.json key, value -> the line
    ("num_attention_heads", 0): "model.n_heads=0 must be an integer >= 1 (model.n_heads is its num_attention_heads)",
    ("num_attention_heads", 3): "model.d_model=32 is not divisible by model.n_heads=3",   # was 'not the standard
    ("num_attention_heads", -2): "model.n_heads=-2 must be an integer >= 1",              # rotary table', a crash
    ("num_hidden_layers", 0): "model.n_layers=0 must be an integer >= 1",                 # was 0 layers, silently
    ("num_hidden_layers", 1): "its weights hold 2 layers in esm.encoder, and its config.json builds 1",  # silently
    ("rope_theta", -1.0): "model.rope_theta=-1.0 must be a number > 1.0",
    ("max_position_embeddings", 0): "model.max_positions=0 must be an integer >= 1",      # was 'shorten it' to -2
}


@pytest.mark.parametrize("change", sorted(CONFIG_JSON, key=str))
def test_a_transformers_config_that_does_not_fit_its_weights_is_one_line(esm_folder, tmp_path, change):
    key, value = change
    folder = shutil.copytree(esm_folder, tmp_path / "esm")
    config = json.loads((folder / "config.json").read_text())
    config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    err = one_line(RUNNER.invoke(app, ["fill", str(folder), "the [MASK] city ."]))
    assert CONFIG_JSON[change] in err and str(folder) in err, err


def test_the_unchanged_transformers_folder_loads(esm_folder):
    result = RUNNER.invoke(app, ["fill", str(esm_folder), "the [MASK] city .", "--json"])
    assert result.exit_code == 0, result.stderr


# ------------------------------------------------------------------ probe --file
def test_probe_reads_a_bom_and_a_form_feed_as_text(tmp_path):
    from maskbench.inspect.probe import read_sentences

    f = tmp_path / "senses.txt"
    f.write_bytes("\ufeff# senses\nfruit\tthe apple\x0c fell\r\ncompany\tapple phone\u2028news\n".encode())
    assert read_sentences(f) == [("fruit", "the apple\x0c fell"), ("company", "apple phone\u2028news")]


# ------------------------------------------------------------------ a user's own objective, misbehaving
PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar

import torch

from maskbench.batch import IGNORE
from maskbench.corruption.base import Noised
from maskbench.config.schema.corruption import CorruptionConfig
from maskbench.config.schema.fields import option
from my_objective_base import RandomTokenCorruption, RandomTokenMLM


def returning(change):
    class Corruption(RandomTokenCorruption):
        def __call__(self, blocks, rng, partner=None):
            n = super().__call__(blocks, rng, partner)
            return change(n, self.vocab)

    @dataclass(frozen=True)
    class Objective(RandomTokenMLM):
        implementation: ClassVar = Corruption
    return Objective


def _raise(n, vocab):
    raise ValueError("a bug in the plug-in")


Raises = returning(_raise)
Short = returning(lambda n, v: Noised(n.source[:, :-3], n.source_len, n.diag, n.mlm_labels[:, :-3]))
Labels = returning(lambda n, v: Noised(n.source, n.source_len, n.diag, n.mlm_labels[:, :5]))
Huge = returning(lambda n, v: Noised(n.source.clone().fill_(10 ** 6), n.source_len, n.diag, n.mlm_labels))
Floats = returning(lambda n, v: Noised(n.source.float(), n.source_len, n.diag, n.mlm_labels))
Nothing = returning(lambda n, v: None)
Ignored = returning(lambda n, v: Noised(n.source, n.source_len, n.diag, torch.full_like(n.mlm_labels, IGNORE)))


@dataclass(frozen=True)
class BadCheck(RandomTokenMLM):
    def check(self):
        raise KeyError("oops")
'''

PLUGINS = {  # class -> the line (each was the internal-error line, or trained silently: Labels, Ignored)
    "Raises": "its corruption Corruption.__call__ raised ValueError: a bug in the plug-in: fix the objective",
    "Short": "Corruption.__call__ returned source_len 30 for a source 27 long",
    "Labels": "returned mlm_labels of shape (8, 5) beside a source of shape (8, 30)",
    "Huge": "returned source holding id 1000000, outside the vocabulary",
    "Floats": "returned source of dtype torch.float32 (token ids are int64)",
    "Nothing": "returned a NoneType, not a maskbench.corruption.base.Noised",
    "Ignored": "none of the 16 validation blocks holds a position to predict, so the validation loss would read 0.0",
    "BadCheck": "its check() raised KeyError: 'oops': fix the objective",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project folder with the example objective (as an importable module) and misbehaving ones."""
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples"
    (tmp_path / "conf" / "corruption").mkdir(parents=True)
    shutil.copy(example / "conf" / "corruption" / "my_objective.yaml", tmp_path / "conf" / "corruption")
    shutil.copy(example / "my_objective.py", tmp_path / "my_objective_base.py")
    (tmp_path / "bad.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("my_objective_base", "maskbench_user_objective_"))]:
        del sys.modules[name]


@pytest.mark.parametrize("cls", sorted(PLUGINS))
def test_a_misbehaving_objective_is_one_line_naming_it(project, tiny_overrides, cls):
    result = RUNNER.invoke(app, ["pretrain", *tiny_overrides, "corruption=my_objective",
                                 f"corruption.objective=bad.py:{cls}", "train.max_steps=2", f"run.dir={project / 'run'}"])
    err = one_line(result)
    assert f"corruption.objective='bad.py:{cls}'" in err and PLUGINS[cls] in err, err


def test_the_example_objective_still_trains_through_the_checks(project, tiny_overrides):
    result = RUNNER.invoke(app, ["pretrain", *tiny_overrides, "corruption=my_objective", "train.max_steps=2",
                                 f"corruption.objective=my_objective_base.py:RandomTokenMLM",
                                 f"run.dir={project / 'run'}"])
    assert result.exit_code == 0, result.stderr


# ------------------------------------------------------------------ corruption.archs: narrowed, never widened
@pytest.mark.parametrize("over, needle", [
    (["corruption=gpt_bert", "corruption.archs=[encoder_decoder]"],        # trained an encoder-decoder silently
     "corruption.archs=['encoder_decoder'] adds encoder_decoder: corruption=gpt_bert runs on encoder only"),
    (["corruption=t5_span", "corruption.archs=[encoder]", "arch=encoder"],  # was a crash in the framing
     "corruption=t5_span runs on encoder_decoder only; corruption.archs can narrow that list, not widen it"),
    (["corruption=electra", "corruption.archs=[encoder,encoder_decoder]"],
     "adds encoder_decoder: corruption=electra runs on encoder only"),
    (["corruption=gpt_bert", "corruption.archs=[]"],                       # was 'it needs  (...)'
     "corruption.archs=[] names no architecture: corruption=gpt_bert runs on encoder"),
])
def test_corruption_archs_cannot_widen_what_an_objective_runs_on(over, needle):
    assert needle in one_line(RUNNER.invoke(app, ["config", "show", *over]))


def test_corruption_archs_may_narrow():
    cfg = load_config(["corruption=bert_mlm", "corruption.archs=[encoder_decoder]"])
    assert cfg.corruption.archs == ["encoder_decoder"] and cfg.arch.name == "encoder_decoder"


# ------------------------------------------------------------------ fill --beam
@pytest.mark.parametrize("beam", ["17", "100000"])
def test_a_beam_past_what_can_be_decoded_is_one_line(run, beam):
    """--beam 100000 was torch's topk past the vocabulary (the internal-error line); below it, one decoder pass
    per beam and token in Python: hours for one sentence."""
    err = one_line(RUNNER.invoke(app, ["fill", str(run), "the [MASK] .", "--beam", beam]))
    assert f"--beam {beam}: give 1 (greedy) to 16" in err, err


# ------------------------------------------------------------------ a folder that is no model
def test_a_folder_that_is_no_model_is_named_by_its_command(tmp_path):
    """It read 'score=FOLDER is neither ...', like a config override, and offered no fix."""
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b .\tb a .\n")
    for command, args in (("score", ["--pairs", str(tsv)]), ("fill", ["the [MASK] ."]), ("probe", [])):
        err = one_line(RUNNER.invoke(app, [command, str(tmp_path), *args]))
        assert err.startswith(f"error: {command}: {tmp_path} is neither a maskbench run") and \
            err.endswith("give one of those"), err
