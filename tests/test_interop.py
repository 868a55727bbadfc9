"""Across the transformers border, offline: export is exact, transformers' tools use the export as
maskbench does, exports and public families (BERT, RoBERTa, BART) come back in exactly, and a
vocabulary from elsewhere works with every corruption."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers")

from hf_models import FILL_TEXT, assert_fill_mask_agrees, bart_folder, bert_folder, roberta_folder  # noqa: E402

from maskbench.config import load_config  # noqa: E402
from maskbench.batch import Batch  # noqa: E402
from maskbench.errors import MaskbenchError  # noqa: E402
from maskbench.inspect.fill import fill_encoder, generate  # noqa: E402
from maskbench.inspect.loading import load_checkpoint  # noqa: E402
from maskbench.export.model import export_model  # noqa: E402
from maskbench.runs.rundir import read_metrics  # noqa: E402
from maskbench.train.pretrain import run_pretrain  # noqa: E402

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tiny_overrides, tmp_path_factory):
    """A bert_mlm encoder and a bart_infill encoder-decoder (debug size), each exported."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for arch, corruption in (("encoder", "bert_mlm"), ("encoder_decoder", "bart_infill")):
        run = run_pretrain(load_config(tiny_overrides + [f"arch={arch}", f"corruption={corruption}",
                                                         f"run.dir={root / arch}"]))
        out[arch] = (run, export_model(run, root / f"{arch}-hf"))
    return out


@pytest.fixture(scope="module")
def sentences(cache_dir):
    """Real text: sentences of the Wikipedia sample that ships inside the gensim wheel."""
    from maskbench.data.corpus import default_corpus_path, iter_documents

    out = []
    for doc in iter_documents([default_corpus_path(str(cache_dir))], "auto"):
        out += [s for s in doc if 40 < len(s) < 220]
        if len(out) >= 6:
            return out[:6]
    return out


def test_export_folder_loads_with_auto_classes(exported):
    enc = exported["encoder"][1]
    cfg = json.loads((enc / "config.json").read_text())
    assert cfg["model_type"] == "megatron-bert" and cfg["architectures"] == ["MegatronBertForPreTraining"]
    assert type(transformers.AutoModelForMaskedLM.from_pretrained(enc)).__name__ == "MegatronBertForMaskedLM"
    tok = transformers.AutoTokenizer.from_pretrained(enc)
    assert (tok.mask_token, tok.pad_token, tok.cls_token, tok.sep_token) == ("[MASK]", "[PAD]", "[CLS]", "[SEP]")
    dec = exported["encoder_decoder"][1]
    assert type(transformers.AutoModelForSeq2SeqLM.from_pretrained(dec)).__name__ == "BlenderbotForConditionalGeneration"


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
def test_exported_logits_equal_maskbench_on_text(exported, sentences, arch):
    run, folder = exported[arch]
    m = load_checkpoint(run)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    hf = (transformers.AutoModelForMaskedLM if arch == "encoder" else transformers.AutoModelForSeq2SeqLM
          ).from_pretrained(folder).eval()
    batch = tok(sentences, padding=True, return_tensors="pt")
    first, last = (m.vocab.cls, m.vocab.sep) if arch == "encoder" else (m.vocab.bos, m.vocab.eos)
    for row, text in zip(batch["input_ids"].tolist(), sentences):  # transformers tokenizes as maskbench frames
        ours = [first] + m.tok.encode(text, add_special_tokens=False).ids + [last]
        assert row[:len(ours)] == ours and set(row[len(ours):]) <= {m.vocab.pad}
    ids, real = batch["input_ids"], batch["attention_mask"].bool()
    with torch.no_grad():
        if arch == "encoder":
            ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real,
                                                     token_type_ids=batch["token_type_ids"])))
            theirs = hf(**batch).logits
        else:
            dec = torch.cat([torch.full((len(ids), 1), m.vocab.bos), ids[:, :-1]], 1)
            ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real, decoder_input_ids=dec)))
            theirs = hf(input_ids=ids, attention_mask=batch["attention_mask"], decoder_input_ids=dec).logits
    assert ours.shape == theirs.shape
    assert float((ours - theirs)[real].abs().max()) < TOL


def test_pair_inputs_carry_segments(exported):
    run, folder = exported["encoder"]
    m = load_checkpoint(run)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    enc = tok("the river flows", "the city is north")
    a, b = (m.tok.encode(t, add_special_tokens=False).ids for t in ("the river flows", "the city is north"))
    assert enc["input_ids"] == [m.vocab.cls] + a + [m.vocab.sep] + b + [m.vocab.sep]
    assert enc["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    hf = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    x = {k: torch.tensor([v]) for k, v in enc.items()}
    with torch.no_grad():
        ours = m.model.lm_head(m.model(Batch(input_ids=x["input_ids"], labels=x["input_ids"],
                                                 token_type_ids=x["token_type_ids"])))
        assert float((ours - hf(**x).logits).abs().max()) < TOL


def test_fill_mask_pipeline_gives_maskbench_fill(exported):
    run, folder = exported["encoder"]
    ours = assert_fill_mask_agrees(run, folder)
    # the exported folder is also a maskbench checkpoint
    assert [i for _, i, _ in fill_encoder(load_checkpoint(folder), FILL_TEXT)[0]] == [p["id"] for p in ours]


def test_generate_greedy_gives_maskbench_fill(exported):
    run, folder = exported["encoder_decoder"]
    m = load_checkpoint(run)
    text = "the city is in the [MASK] of the river ."
    from maskbench.inspect.loading import encode_with_masks

    ids = encode_with_masks(m.tok, text, m.vocab)
    ours = generate(m, ids, beam=1)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    x = tok(text, return_tensors="pt")
    assert x["input_ids"][0].tolist() == [m.vocab.bos] + ids + [m.vocab.eos]
    out = hf.generate(**x, max_new_tokens=len(ids) + 32)[0].tolist()
    assert out[0] == m.vocab.bos
    out = out[1:-1] if out[-1] == m.vocab.eos else out[1:]
    assert out == ours


def test_round_trip_export_init_gives_the_same_validation_loss(exported, tiny_overrides, tmp_path):
    for arch, corruption in (("encoder", "bert_mlm"), ("encoder_decoder", "bart_infill")):
        run, folder = exported[arch]
        final_val = [e for e in read_metrics(run) if e["split"] == "val"][-1]["loss"]
        again = run_pretrain(load_config(tiny_overrides + [f"arch={arch}", f"corruption={corruption}",
                                                           f"init={folder}", f"run.dir={tmp_path / arch}",
                                                           "train.max_steps=2"]))
        start_val = [e for e in read_metrics(again) if e["split"] == "val"][0]
        assert start_val["step"] == 0 and start_val["loss"] == pytest.approx(final_val, abs=TOL)


@pytest.fixture(scope="module")
def public(corpus_file, tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    return {"bert": bert_folder(corpus_file, root / "bert"), "roberta": roberta_folder(corpus_file, root / "roberta"),
            "bart": bart_folder(corpus_file, root / "bart")}


@pytest.mark.parametrize("family", ["bert", "roberta", "bart"])
def test_public_families_load_with_their_own_logits(public, sentences, family):
    folder = public[family]
    m = load_checkpoint(folder)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    batch = tok(sentences, padding=True, return_tensors="pt")
    ids, real = batch["input_ids"], batch["attention_mask"].bool()
    # special tokens found by name, whatever their ids
    assert m.vocab.mask == tok.mask_token_id and m.vocab.pad == tok.pad_token_id
    assert m.vocab.cls == tok.cls_token_id and m.vocab.mask not in range(5) or family == "bert"
    with torch.no_grad():
        if family == "bart":
            hf = transformers.BartForConditionalGeneration.from_pretrained(folder).eval()
            dec = torch.cat([torch.full((len(ids), 1), m.vocab.bos), ids[:, :-1]], 1)
            ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real, decoder_input_ids=dec)))
            theirs = hf(input_ids=ids, attention_mask=batch["attention_mask"], decoder_input_ids=dec).logits
        else:
            hf = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
            types = batch.get("token_type_ids")
            ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real, token_type_ids=types)))
            theirs = hf(**batch).logits
    assert float((ours - theirs)[real].abs().max()) < TOL


def _cut_and_resume(tiny_overrides, run_dir, extra):
    """Pretend the run died after step 3; resume; the losses must equal the uninterrupted run's."""
    full = [(e["step"], e["split"], e["loss"]) for e in read_metrics(run_dir)]
    shutil.rmtree(run_dir / "checkpoints" / "final")
    (run_dir / "summary.json").unlink()
    run_pretrain(load_config(tiny_overrides + extra + ["train.resume=true"]))
    assert [(e["step"], e["split"], e["loss"]) for e in read_metrics(run_dir)] == full


@pytest.mark.parametrize("family, arch, corruption", [("bert", "encoder", "bert_mlm"),
                                                      ("bart", "encoder_decoder", "bart_infill"),
                                                      ("roberta", "encoder", "span_mlm")])
def test_continued_pretraining_from_a_public_model_trains_and_resumes(public, tiny_overrides, tmp_path, family, arch,
                                                                      corruption):
    run_dir = tmp_path / family
    extra = [f"init={public[family]}", f"arch={arch}", f"corruption={corruption}", f"run.dir={run_dir}",
             "train.max_steps=6", "train.ckpt_every=3", "train.eval_every=3"]
    run_pretrain(load_config(tiny_overrides + extra))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 6 and summary["final_val_loss"] < summary["initial_val_loss"]
    assert (run_dir / "checkpoints" / "step-000003").exists()
    _cut_and_resume(tiny_overrides, run_dir, extra)


def test_t5_on_a_bart_vocabulary_gets_sentinels(public, tiny_overrides, tmp_path):
    run = run_pretrain(load_config(tiny_overrides + [f"init={public['bart']}", "arch=encoder_decoder",
                                                     "corruption=t5_span", f"run.dir={tmp_path / 't5'}",
                                                     "train.max_steps=3"]))
    tok = json.loads((run / "tokenizer.json").read_text())
    added = {t["content"]: t["id"] for t in tok["added_tokens"]}
    n_bart = len(transformers.AutoTokenizer.from_pretrained(public["bart"]))
    assert added["[X0]"] == n_bart and added["[X1]"] == n_bart + 1  # appended after BART's own ids
    assert json.loads((run / "summary.json").read_text())["steps"] == 3


@pytest.mark.parametrize("corruption, arch", [
    ("bert_mlm", "encoder"), ("bert_mlm_nsp", "encoder"), ("span_mlm", "encoder"), ("bart_mask", "encoder_decoder"),
    ("bart_delete", "encoder_decoder"), ("bart_infill", "encoder_decoder"), ("bart", "encoder_decoder"),
    ("mass_span", "encoder_decoder"), ("t5_span", "encoder_decoder")])
def test_a_foreign_vocabulary_works_with_every_corruption(public, tiny_overrides, corruption, arch):
    from maskbench.corruption import build_corruption
    from maskbench.inspect.corrupt import measure
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab, add_sentinels

    tok_file = public["bert"] / "tokenizer.json"
    cfg = load_config(tiny_overrides + [f"data.tokenizer_file={tok_file}", f"corruption={corruption}", f"arch={arch}"])
    cache = build_cache(cfg.data)
    tok = load_cache_tokenizer(cache)
    if corruption == "t5_span":
        add_sentinels(tok, cfg.data.n_sentinels)
    vocab = Vocab.from_tokenizer(tok)
    assert not vocab.is_native and vocab.pad == 0 and vocab.unk == 4 and vocab.mask == 7
    s = measure(build_corruption(cfg.corruption, arch, vocab), BlockStore(cache, "train", cfg.data.seq_len - 2),
                vocab, corruption, 300)
    assert s["specials_touched"] == 0
    if corruption in ("bert_mlm", "span_mlm"):
        assert abs(s["selected_frac"] - 0.15) < 0.03
        assert abs(s["random_frac"] - 0.1) < 0.05


def test_bad_folders_are_one_line(tmp_path, public, tiny_overrides):
    other = tmp_path / "gpt"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(MaskbenchError, match="'gpt2' model: maskbench loads"):
        load_checkpoint(other)
    with pytest.raises(MaskbenchError, match="add arch=encoder_decoder"):
        run_pretrain(load_config(tiny_overrides + [f"init={public['bart']}", f"run.dir={tmp_path / 'r'}"]))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(MaskbenchError, match="not empty"):
        export_model(public["bert"], tmp_path / "full")
    proc = subprocess.run([sys.executable, "-m", "maskbench", "fill", str(other), "a [MASK] b"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
