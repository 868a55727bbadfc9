"""maskbench's corruptions as transformers collators: the batch transformers' models take, the same
statistics as maskbench's own corruption, and transformers' Trainer learning with them (offline, tiny models)."""

import re
import shutil
from pathlib import Path

import pytest
import torch

from maskbench.errors import MaskbenchError

transformers = pytest.importorskip("transformers")
from hf_models import bart_folder, bert_folder, t5_folder  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def folders(corpus_file, tmp_path_factory):
    root = tmp_path_factory.mktemp("collator-models")
    return {"bert": bert_folder(corpus_file, root / "bert"), "bart": bart_folder(corpus_file, root / "bart"),
            "t5": t5_folder(corpus_file, root / "t5")}


def sentences(corpus_file: Path, n: int, per: int = 2) -> list[str]:
    """n texts of `per` sentences each from the synthetic corpus."""
    text = " ".join(line for line in corpus_file.read_text().splitlines() if line and not line.startswith(" ="))
    parts = [p.strip() + "." for p in text.split(".") if p.strip()]
    return [" ".join(parts[i:i + per]) for i in range(0, per * n, per)]


def test_bert_mlm_batch_is_what_bert_for_masked_lm_takes(folders, corpus_file):
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    assert len(tok) > 300  # a real vocabulary, not transformers' 5-token fallback
    collate = make_collator("bert_mlm", tok, mask_prob=0.4)
    examples = [tok(s) for s in sentences(corpus_file, 64)]
    batch = collate(examples)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"].bool()
    assert (ids[:, 0] == tok.cls_token_id).all()
    lengths = mask.sum(1)
    assert (ids[torch.arange(len(ids)), lengths - 1] == tok.sep_token_id).all()
    assert (ids[~mask] == tok.pad_token_id).all() and (labels[~mask] == -100).all()
    read = labels != -100
    special = torch.tensor(tok.all_special_ids)
    assert not torch.isin(labels[read], special).any()  # no special token is ever selected
    # The originals under the labels: the example's own tokens, at the same place.
    for n, e in enumerate(examples):
        orig = torch.tensor(e["input_ids"])
        assert torch.equal(labels[n, :len(orig)][read[n, :len(orig)]], orig[read[n, :len(orig)]])
    rate = read.sum() / (lengths - 2).sum()
    assert 0.35 < float(rate) < 0.45  # mask_prob=0.4 reached the corruption
    out = transformers.AutoModelForMaskedLM.from_pretrained(str(folders["bert"]))(**batch)
    assert torch.isfinite(out.loss)


def test_t5_sentinels_are_the_tokenizers_extra_ids(folders, corpus_file):
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["t5"]))
    extra0 = tok.convert_tokens_to_ids("<extra_id_0>")
    assert extra0 == len(tok) - 1  # numbered downwards, as T5's
    batch = make_collator("t5_span", tok)([tok(s) for s in sentences(corpus_file, 16, per=8)])
    ids, labels = batch["input_ids"], batch["labels"]
    assert (ids == extra0).any(1).all()  # every source has <extra_id_0>
    assert (labels[:, 0] == extra0).all()  # target = <extra_id_0> span_0 <extra_id_1> ...
    lengths = batch["attention_mask"].sum(1)
    assert (ids[torch.arange(len(ids)), lengths - 1] == tok.eos_token_id).all()  # `text </s>`, no start token
    second = labels == tok.convert_tokens_to_ids("<extra_id_1>")
    assert second.any()
    assert not (labels == len(tok)).any() and int(ids.max()) < len(tok)  # no virtual id leaks


@pytest.mark.parametrize("name, settings, needle", [
    ("mass_span", {}, "MASS feeds its decoder"),
    ("electra", {}, "needs its generator"),
    ("bert_mlm_nsp", {}, "next-sentence pairs"),
    ("bert_mlm", {"mask_probb": 0.2}, "mask_probb"),
    ("bert_mlm", {"mask_prob": 1.5}, "mask_prob"),
    ("nope", {}, "choose one of"),
    ("bart_infill", {"arch": "encoder"}, "does not fit arch=encoder"),
])
def test_unusable_settings_are_one_line(folders, name, settings, needle):
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    with pytest.raises(MaskbenchError, match=needle):
        make_collator(name, tok, **settings)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A user's project folder, the current one: examples/my_objective.py and its conf/corruption/my_objective.yaml;
    beside them needs_model, the same objective subclassed to say that no collator can serve it."""
    project = tmp_path / "project"
    (project / "conf" / "corruption").mkdir(parents=True)
    shutil.copy(EXAMPLE / "my_objective.py", project)
    shutil.copy(EXAMPLE / "conf" / "corruption" / "my_objective.yaml", project / "conf" / "corruption")
    (project / "needs_model.py").write_text((EXAMPLE / "my_objective.py").read_text() + """

@dataclass(frozen=True)
class NeedsModel(RandomTokenMLM):
    collator_why_not: ClassVar[Optional[str]] = "it samples its replacements from a model of its own"
""")
    (project / "conf" / "corruption" / "needs_model.yaml").write_text(
        "name: needs_model\nfamily: needs_model\nobjective: needs_model.py:NeedsModel\narchs: [encoder]\n")
    monkeypatch.chdir(project)
    monkeypatch.delenv("MASKBENCH_CONFIG_DIR", raising=False)
    return project


def test_a_users_objective_collates_as_a_built_in_one(folders, corpus_file, project):
    """Random-token MLM (the example plug-in), found by its preset name as `corruption=my_objective` finds it: the
    selected text tokens become random text tokens, labels hold the original there and only there, and no special
    token is selected or written."""
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    examples = [tok(s) for s in sentences(corpus_file, 64)]
    batch = make_collator("my_objective", tok, mask_prob=0.3)(examples)
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"].bool()
    longest = max(len(e["input_ids"]) for e in examples)
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert ids.shape == labels.shape == mask.shape == (len(examples), longest)
    special = torch.tensor(tok.all_special_ids)
    read = labels != -100
    for n, e in enumerate(examples):
        orig = torch.tensor(e["input_ids"])  # [CLS] text [SEP], framed as the tokenizer frames it
        L = len(orig)
        assert mask[n, :L].all() and not mask[n, L:].any() and not read[n, L:].any()
        assert torch.equal(labels[n, :L][read[n, :L]], orig[read[n, :L]])  # the original, where selected
        assert torch.equal(ids[n, :L][~read[n, :L]], orig[~read[n, :L]])  # everything else as it was
        assert not read[n, :L][torch.isin(orig, special)].any()  # [CLS] and [SEP] never selected
    assert not torch.isin(ids[read], special).any()  # replacements are text tokens: never [MASK] or [PAD]
    assert float((ids[read] != labels[read]).float().mean()) > 0.9  # random tokens (rarely the original again)
    rate = read.sum() / (mask.sum(1) - 2).sum()
    assert 0.25 < float(rate) < 0.35  # mask_prob=0.3 reached the plug-in


def test_a_users_objective_is_refused_where_it_says_so_or_its_settings_are_wrong(folders, project):
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    with pytest.raises(MaskbenchError, match="^needs_model has no collator: it samples its replacements from a "
                                             "model of its own$"):
        make_collator("needs_model", tok)
    with pytest.raises(MaskbenchError, match="random-token MLM above 0.5"):  # the plug-in's own check()
        make_collator("my_objective", tok, mask_prob=0.7)
    with pytest.raises(MaskbenchError, match="does not fit arch=encoder_decoder"):
        make_collator("my_objective", tok, arch="encoder_decoder")


def test_whole_word_masking_selects_whole_words(folders, corpus_file):
    """whole_word=true reads the tokenizer's '##' pieces: a word's pieces are selected together; a tokenizer that
    marks no word pieces (byte-level BPE) is one line."""
    from maskbench.collators import make_collator

    tok = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    glued = [re.sub(r"(\w+) (\w+)", r"\1\2", s) for s in sentences(corpus_file, 32)]  # words the vocabulary splits
    examples = [tok(s) for s in glued]
    read = make_collator("bert_mlm", tok, whole_word=True, mask_prob=0.4)(examples)["labels"] != -100
    pieces = 0
    for n, e in enumerate(examples):
        tokens = tok.convert_ids_to_tokens(e["input_ids"])
        for i in range(2, len(tokens) - 1):  # [CLS] and the first text piece open the example
            if tokens[i].startswith("##"):
                pieces += 1
                assert read[n, i] == read[n, i - 1], (tokens[i - 1:i + 1], n, i)
    assert pieces > 50 and read.any()
    bpe = transformers.AutoTokenizer.from_pretrained(str(folders["bart"]))
    with pytest.raises(MaskbenchError, match="^bert_mlm masks whole words, .* this tokenizer has none"):
        make_collator("bert_mlm", bpe, whole_word=True)


def test_t5_span_needs_sentinels_and_bart_needs_a_mask(folders):
    from maskbench.collators import make_collator

    bert = transformers.AutoTokenizer.from_pretrained(str(folders["bert"]))
    with pytest.raises(MaskbenchError, match="no <extra_id_0>"):
        make_collator("t5_span", bert)
    t5 = transformers.AutoTokenizer.from_pretrained(str(folders["t5"]))
    with pytest.raises(MaskbenchError, match="no mask token"):
        make_collator("bart_infill", t5)
    with pytest.raises(MaskbenchError, match="ids outside this tokenizer"):
        make_collator("t5_span", t5)([[5, 6, 7, 10_000]])


@pytest.mark.parametrize("name, keys", [
    ("bert_mlm", ("selected_frac", "mask_frac", "random_frac", "kept_frac")),
    ("span_mlm", ("selected_frac", "span_len_mean")),
    ("bart_infill", ("selected_frac", "span_len_mean", "zero_len_span_frac", "source_len_ratio")),
    ("bart_delete", ("selected_frac", "source_len_ratio")),
    ("t5_span", ("selected_frac", "span_len_mean", "source_len_ratio", "target_len_ratio")),
])
def test_collator_statistics_match_corrupt_stats_on_the_same_text(tiny_setup, name, keys):
    """The collator and `maskbench corrupt --stats` measure the same rates on the same blocks of text."""
    from maskbench.collators import corruption_config, make_collator
    from maskbench.corruption.registry import build_corruption
    from maskbench.inspect.corrupt import measure

    cfg, cache, tok, vocab, store = tiny_setup
    hf_tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]",
                                                  sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]",
                                                  bos_token="[BOS]", eos_token="[EOS]")
    assert len(hf_tok) == tok.get_vocab_size()
    corruption_cfg = corruption_config(name, {})
    arch = list(corruption_cfg.archs)[-1]
    n = min(len(store), 600)
    ours = measure(build_corruption(corruption_cfg, arch, vocab), store, vocab, name, n)
    collate = make_collator(name, hf_tok, seed=5, arch=arch).measure()
    tokens = store.get(list(range(n))).tokens
    for i in range(0, n, 100):
        collate([{"input_ids": row.tolist()} for row in tokens[i:i + 100]])
    theirs = collate.stats()
    assert ours["specials_touched"] == theirs["specials_touched"] == 0
    for key in keys:  # two independent samples: 4 standard errors of their difference
        if key in ("mask_frac", "random_frac", "kept_frac", "selected_frac", "zero_len_span_frac"):
            p = ours[key]
            count = {"selected_frac": ours["tokens"], "zero_len_span_frac": (ours["span_count_mean"] or 0) * n}.get(
                key, ours["selected_tokens"])
            tol = 4 * (2 * p * (1 - p) / count) ** 0.5
        else:
            tol = 0.05 * ours[key]
        assert abs(theirs[key] - ours[key]) <= tol, (key, theirs[key], ours[key], tol)


@pytest.mark.parametrize("name, family, auto", [
    ("bert_mlm", "bert", "AutoModelForMaskedLM"),
    ("bart_infill", "bart", "AutoModelForSeq2SeqLM"),
    ("t5_span", "t5", "AutoModelForSeq2SeqLM"),
])
def test_trainer_learns_with_the_collator(folders, corpus_file, tmp_path, name, family, auto):
    pytest.importorskip("accelerate")
    from maskbench.collators import make_collator

    folder = folders[family]
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    torch.manual_seed(0)
    model = getattr(transformers, auto).from_pretrained(str(folder))
    data = [dict(tok(s)) for s in sentences(corpus_file, 160)]
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=20, per_device_train_batch_size=16,
                                          learning_rate=3e-3, logging_steps=1, report_to=[], save_strategy="no",
                                          use_cpu=True, seed=0, disable_tqdm=True, warmup_steps=0)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   data_collator=make_collator(name, tok, seed=1))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 20
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first - 0.25, losses  # nats: the noise of 4-step means is about 0.1
