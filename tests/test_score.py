"""`maskbench score`: zero-shot minimal pairs. The batched scores against hand computation and a one-sentence-at-a-time
loop for every architecture and input; ties counted wrong; both file formats; every bad input one line."""

from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from maskbench.cli import app
from maskbench.config import load_config

RUNNER = CliRunner()

RUNS = {"enc": [], "electra": ["corruption=electra"], "bart": ["arch=encoder_decoder", "corruption=bart_infill"],
        "bart_mask": ["arch=encoder_decoder", "corruption=bart_mask"],
        "bart_delete": ["arch=encoder_decoder", "corruption=bart_delete"],
        "mass": ["arch=encoder_decoder", "corruption=mass_span"], "t5": ["arch=encoder_decoder", "corruption=t5_span"],
        "ul2": ["arch=encoder_decoder", "corruption=ul2"], "rope": ["model.positions=rope"]}


def one_line(result, code: int = 2) -> str:
    err = result.stderr.strip()
    assert result.exit_code == code, (result.exit_code, err, repr(result.exception))
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def runs(tiny_overrides, tmp_path_factory):
    """Tiny pretrained runs (a few steps): an encoder with step checkpoints, and one run of every other input kind."""
    from maskbench.train.pretrain import run_pretrain

    root = tmp_path_factory.mktemp("score-runs")
    out = {}
    for name, extra in RUNS.items():
        steps = ["train.max_steps=6", "train.ckpt_every=2", "train.keep_checkpoints=5", "train.eval_every=2"] \
            if name == "enc" else ["train.max_steps=3"]
        out[name] = run_pretrain(load_config(tiny_overrides + extra + steps + [f"run.dir={root / name}"]))
    return out


SENTENCES = ["the river was in the city .", "a new school of music", "Apple phone companies were there",
             "x", "the the the of and station village island church language history", "playing gardeners"]


# ------------------------------------------------------------------ the scores themselves
def _reference(zm, seq, words, method):
    """One sentence, one masked copy at a time, each through the model alone (no batching, no padding)."""
    from maskbench.batch import Batch
    from maskbench.zeroshot import inputs as I

    v, m, inp = zm.vocab, zm.model, zm.inputs
    n = len(seq)

    def lp(state, target):
        return float(torch.log_softmax(m.lm_head(state[None]).float(), -1)[0, target])

    def decode(src, dec, pos=None):
        x, d = torch.tensor([src]), torch.tensor([dec])
        return m(Batch(input_ids=x, labels=d, decoder_input_ids=d, decoder_positions=pos))[0]

    def hidden(k):
        return {I.MASKS: [v.mask] * k, I.ONE_MASK: [v.mask], I.SENTINEL: [v.sentinel0], I.DELETE: []}[inp.hide]

    if method == "all-masked":
        src = [v.bos, *inp.prefix, *hidden(n), v.eos]
        if inp.decoder == I.AFTER_SENTINEL:
            h = decode(src, [v.bos, v.sentinel0] + seq[:-1])[1:]
        else:
            h = decode(src, [v.bos] + seq[:-1], torch.arange(n)[None] if inp.decoder == I.FRAGMENT else None)
        return sum(lp(h[k], seq[k]) for k in range(n))
    total = 0.0
    for i in range(n):
        j = i + 1
        while method == "pll-word" and j < n and words[j] == words[i]:
            j += 1
        if inp.encoder_only:
            x = [v.cls] + seq + [v.sep]
            x[i + 1:j + 1] = [v.mask] * (j - i)
            total += lp(m(Batch(input_ids=torch.tensor([x]), labels=torch.tensor([x])))[0, i + 1], seq[i])
            continue
        src = [v.bos, *inp.prefix, *seq[:i], *hidden(j - i), *seq[j:], v.eos]
        if inp.decoder == I.WHOLE:
            total += lp(decode(src, [v.bos] + seq[:-1])[i], seq[i])
        elif inp.decoder == I.FRAGMENT:
            total += lp(decode(src, [seq[i - 1] if i else v.bos], torch.tensor([[i]]))[0], seq[i])
        else:
            total += lp(decode(src, [v.bos, v.sentinel0])[1], seq[i])
    return total


CASES = [(run, method) for run in RUNS for method in ("pll", "pll-word", "all-masked")
         if method != "all-masked" or RUNS[run][:1] == ["arch=encoder_decoder"]]


@pytest.mark.parametrize("run, method", CASES, ids=["-".join(c) for c in CASES])
def test_batched_scores_equal_the_one_at_a_time_loop(runs, run, method):
    from maskbench.zeroshot.model import load_model, open_source
    from maskbench.zeroshot.scoring import score_sentences

    zm = load_model(open_source(runs[run]), method)
    encs = [zm.tok.encode(s, add_special_tokens=False) for s in SENTENCES]
    seqs, words = [e.ids for e in encs], [e.word_ids for e in encs]
    # a small chunk budget: sentences of different lengths share chunks (padding) and spread over several
    got = score_sentences(zm.model, zm.inputs, zm.vocab, seqs, words if method == "pll-word" else None, method,
                          batch_tokens=150)
    with torch.no_grad():
        want = [_reference(zm, s, w, method) for s, w in zip(seqs, words)]
    assert got == pytest.approx(want, abs=1e-4)
    assert all(g < 0 for g in got)


class RightNeighbour(torch.nn.Module):
    """A stand-in masked LM whose prediction at each position reads only the token to its right:
    log p(token | right neighbour r) = TABLE[r, token]. The PLL of a sentence is then a sum computed by hand."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.V = table.shape[0]
        self.lm_head = torch.nn.Linear(self.V, self.V, bias=False)
        self.lm_head.weight.data = table.t().contiguous()

    def forward(self, batch):
        right = torch.cat([batch.input_ids[:, 1:], batch.input_ids[:, -1:]], 1)
        return torch.nn.functional.one_hot(right, self.V).float()


def test_pll_and_pll_word_equal_hand_computed_sums():
    from maskbench.zeroshot.inputs import Inputs
    from maskbench.zeroshot.scoring import score_sentences

    V = 12
    vocab = SimpleNamespace(pad=0, cls=2, sep=3, mask=4)
    table = torch.log_softmax(torch.randn(V, V, generator=torch.Generator().manual_seed(0)), -1)
    model = RightNeighbour(table)
    T = lambda r, t: float(table[r, t])  # noqa: E731
    a, b, c, d = 7, 8, 9, 10
    seqs = [[a, b, c], [d]]        # [a b] one word (a, ##b), then c; d alone
    words = [[0, 0, 1], [0]]
    pll = score_sentences(model, Inputs(encoder_only=True), vocab, seqs, words, "pll")
    assert pll[0] == pytest.approx(T(b, a) + T(c, b) + T(vocab.sep, c), abs=1e-5)
    assert pll[1] == pytest.approx(T(vocab.sep, d), abs=1e-5)
    # PLL-word-l2r: scoring a, its word's later piece b is masked too, so a is read from [MASK]
    word = score_sentences(model, Inputs(encoder_only=True), vocab, seqs, words, "pll-word")
    assert word[0] == pytest.approx(T(vocab.mask, a) + T(c, b) + T(vocab.sep, c), abs=1e-5)
    assert word[1] == pll[1]


def test_pll_word_masks_the_later_pieces_of_real_words(runs):
    """On the run's own tokenizer: a word split in pieces scores differently under pll-word; a sentence of whole
    words (one piece each) scores the same."""
    from maskbench.zeroshot.model import load_model, open_source
    from maskbench.zeroshot.scoring import score_sentences

    zm = load_model(open_source(runs["enc"]), "pll")
    split = next(s for s in SENTENCES if len(set(w := zm.tok.encode(s, add_special_tokens=False).word_ids)) < len(w))
    whole = next(s for s in SENTENCES if len(set(w := zm.tok.encode(s, add_special_tokens=False).word_ids)) == len(w)
                 and len(w) > 2)
    for s, same in ((split, False), (whole, True)):
        e = zm.tok.encode(s, add_special_tokens=False)
        pll = score_sentences(zm.model, zm.inputs, zm.vocab, [e.ids], None, "pll")[0]
        word = score_sentences(zm.model, zm.inputs, zm.vocab, [e.ids], [e.word_ids], "pll-word")[0]
        assert (pll == pytest.approx(word, abs=1e-6)) is same, s


# ------------------------------------------------------------------ ties, files, results
def test_ties_count_as_wrong_and_are_counted():
    import numpy as np

    from maskbench.zeroshot.evaluate import Encoded, outcomes, summarise
    from maskbench.zeroshot.pairs import Pair

    pairs = [Pair(f"g{k}", f"b{k}", "grp", None, f"f:{k}") for k in range(4)]
    enc = Encoded(pairs, [[1]] * 8, [[0]] * 8, np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7]))
    same = outcomes(enc, np.zeros(8))                    # a model that scores every sentence alike
    assert not same.correct.any() and same.ties.all()
    s = summarise(enc, same, same)["overall"]
    assert s["pretrained"]["accuracy"] == 0.0 and s["pretrained"]["ties"] == 4
    mixed = outcomes(enc, np.array([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, -1.0, -3.0]))  # right, wrong, tie, right
    s = summarise(enc, mixed, same)["overall"]
    assert s["pretrained"]["accuracy"] == 50.0 and s["pretrained"]["ties"] == 1 and s["pretrained"]["correct"] == 2
    lo, hi = s["pretrained"]["ci"]
    assert lo < 50.0 < hi and s["gap"]["gap"] == 50.0


def test_wilson_interval_matches_its_formula():
    from maskbench.report.uncertainty import proportion_interval

    lo, hi = proportion_interval(547, 1000)
    assert (lo, hi) == pytest.approx((51.60, 57.76), abs=0.01)
    assert proportion_interval(0, 10)[0] == 0.0 and proportion_interval(10, 10)[1] == 100.0
    assert proportion_interval(0, 0) is None


def _blimp(path, uid, pairs, field="syntax"):
    path.write_text("".join(json.dumps({"sentence_good": g, "sentence_bad": b, "field": field, "UID": uid,
                                        "pairID": str(k)}) + "\n" for k, (g, b) in enumerate(pairs)))
    return path


def _score_json(args) -> dict:
    result = RUNNER.invoke(app, ["score", *args, "--json"])
    assert result.exit_code == 0, (result.stderr, repr(result.exception))
    return json.loads(result.stdout)


def test_both_formats_groups_and_ties_through_the_command(runs, tmp_path):
    folder = tmp_path / "blimp"
    folder.mkdir()
    _blimp(folder / "agreement.jsonl", "agreement", [("the river was in the city .", "the river were in the city ."),
                                                     ("a new school .", "a new school .")], field="morphology")
    _blimp(folder / "island.jsonl", "island", [("who was there ?", "who there was ?")])
    (folder / "README.md").write_text("not pairs")  # other files in a folder are not read
    tsv = tmp_path / "mine.tsv"
    tsv.write_text("sentence_good\tsentence_bad\tgroup\nthe city is new .\tthe city are new .\tnumber\n"
                   "a music\ta musics\r\n")
    out = _score_json([str(runs["enc"]), "--pairs", str(folder), "--pairs", str(tsv)])
    run = out["runs"][0]
    assert out["pairs"] == 5 and out["groups"] == 4 and len(out["pairs_files"]) == 3
    groups = {g["group"]: g for g in run["groups"]}
    assert list(groups) == ["agreement", "island", "number", "mine"]   # file order; a TSV without group: its name
    assert groups["agreement"]["field"] == "morphology" and groups["number"]["field"] is None
    # the identical pair is a tie for both models, counted wrong
    assert groups["agreement"]["identical"] == 1
    for who in ("pretrained", "random"):
        assert groups["agreement"][who]["ties"] == 1 and groups["agreement"][who]["correct"] <= 1
    o = run["overall"]
    assert o["pairs"] == 5 and o["pretrained"]["ties"] == o["random"]["ties"] == 1
    assert o["pretrained"]["accuracy"] == pytest.approx(100 * o["pretrained"]["correct"] / 5, abs=1e-3)
    assert run["scored_by"] == "the MLM head" and run["method"] == "pll" and run["random_seed"] == 0
    assert out["ties"] == "counted as wrong" and "Wilson" in out["interval"]


def test_a_random_model_scores_about_half_and_ties_are_not_wins(runs, tmp_path):
    """A model with random weights at 50% of the pairs it can tell apart (within the noise of 900 pairs); 100 identical
    pairs are 100 ties, none a win: counted for the first sentence they would lift it by 10 points."""
    from maskbench.zeroshot.evaluate import score_source
    from maskbench.zeroshot.model import open_source
    from maskbench.zeroshot.pairs import Pair

    rng = random.Random(1)
    words = "the a river city music school house people apple phone tree garden market station".split()
    pairs = []
    for k in range(1000):
        good = rng.sample(words, 6)
        bad = good[:] if k < 100 else rng.sample(good, 6)
        pairs.append(Pair(" ".join(good), " ".join(bad), "shuffle", None, f"x:{k}"))
    result, _, rnd = score_source(open_source(runs["enc"]), pairs, "pll", seed=3)
    r, o = result["overall"]["random"], result["overall"]
    assert o["identical"] >= 100 and r["ties"] >= o["identical"] and not rnd.correct[rnd.ties].any()
    told_apart = 1000 - r["ties"]
    assert abs(100 * r["correct"] / told_apart - 50) < 3 * 100 * (0.25 / told_apart) ** 0.5  # 3 standard errors
    assert r["accuracy"] == pytest.approx(100 * r["correct"] / 1000) and r["accuracy"] < 50 + 5
    assert r["ci"][0] < r["accuracy"] < r["ci"][1]


def test_per_token_divides_by_the_tokens(runs, tmp_path):
    from maskbench.zeroshot.evaluate import encode_pairs, sentence_scores
    from maskbench.zeroshot.model import load_model, open_source
    from maskbench.zeroshot.pairs import Pair

    zm = load_model(open_source(runs["enc"]), "pll")
    enc = encode_pairs([Pair("the river was in the city .", "a new school", "g", None, "x")], zm.tok, zm.max_tokens)
    total, mean = sentence_scores(zm, enc, "pll", False), sentence_scores(zm, enc, "pll", True)
    assert mean == pytest.approx(total / [len(s) for s in enc.seqs])


def test_electra_is_scored_by_its_generator_and_says_so(runs, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\n")
    run = _score_json([str(runs["electra"]), "--pairs", str(tsv)])["runs"][0]
    assert run["scored_by"].startswith("ELECTRA's generator")
    result = RUNNER.invoke(app, ["score", str(runs["electra"]), "--pairs", str(tsv)])
    assert result.exit_code == 0 and "ELECTRA's generator" in result.stdout


def test_encoder_decoder_all_masked_and_figure(runs, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\tagreement\n"
                   "who was there ?\twho there was ?\tisland\n")
    out = _score_json([str(runs["t5"]), str(runs["bart"]), "--pairs", str(tsv), "--method", "all-masked",
                       "-o", str(tmp_path / "fig.png")])
    assert [r["method"] for r in out["runs"]] == ["all-masked"] * 2
    assert "sentinel" in out["runs"][0]["method_text"] and "one [MASK]" in out["runs"][1]["method_text"]
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG" and out["figure"] == str(tmp_path / "fig.png")


def test_checkpoint_curve(runs, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\n"
                   "who was there ?\twho there was ?\n")
    out = _score_json([str(runs["enc"]), "--pairs", str(tsv), "--checkpoints", "all", "-o", str(tmp_path / "c.png")])
    curve = out["curves"][0]
    assert [p["step"] for p in curve["points"]] == [2, 4, 6]
    assert all(p["val_loss"] is not None and p["flops"] > 0 and len(p["ci"]) == 2 for p in curve["points"])
    assert curve["random"]["accuracy"] is not None and curve["val_loss"] and "plateau_exit" in curve
    some = _score_json([str(runs["enc"]), "--pairs", str(tsv), "--checkpoints", "4,2"])["curves"][0]
    assert [p["step"] for p in some["points"]] == [2, 4]
    assert [p["accuracy"] for p in some["points"]] == [p["accuracy"] for p in curve["points"][:2]]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_carries_the_zero_shot_accuracy(tiny_overrides, runs, tmp_path):
    from test_finetune import ft_overrides, write_tasks

    from maskbench.train.compare import run_compare

    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\nwho was there ?\twho there was ?\n")
    files = write_tasks(tmp_path)
    base = ft_overrides(tiny_overrides, "sst2", files, "encoder") + [
        f"compare.init={runs['enc']}", "compare.seeds=[0]", "compare.bootstrap=200", "train.max_steps=4",
        "train.eval_every=2", "compare.checkpoints=[2,6]"]
    plain = load_config(base, root="finetune")
    cfg = load_config(base + [f"compare.zero_shot={tsv}", f"run.dir={tmp_path / 'cmp'}"], root="finetune")
    from maskbench.runs.rundir import RunDir

    assert RunDir.for_comparison(plain, "x").path == RunDir.for_comparison(
        load_config(base + [f"compare.zero_shot={tsv}"], root="finetune"), "x").path  # same folder, same runs
    out = run_compare(cfg)
    s = json.loads((out / "summary.json").read_text())
    zs = s["zero_shot"]
    assert zs["pairs"] == 2 and [p["step"] for p in zs["points"]] == [2, 6]
    assert zs["pretrained"]["accuracy"] == zs["points"][-1]["accuracy"] and "accuracy" in zs["random"]
    assert [b["zero_shot"]["accuracy"] for b in s["budget"]] == [p["accuracy"] for p in zs["points"]]
    assert (out / "zero_shot.json").exists()
    bad = load_config(base + [f"compare.zero_shot={tmp_path / 'nope.tsv'}", f"run.dir={tmp_path / 'c2'}"],
                      root="finetune")
    from maskbench.errors import MaskbenchError

    with pytest.raises(MaskbenchError, match="compare.zero_shot="):
        run_compare(bad)
    assert not (tmp_path / "c2").exists()  # refused before any fine-tuning
    long = tmp_path / "long.tsv"  # was refused only after every fine-tuning had run
    long.write_text("the river .\tthe rivers .\n" + "word " * 600 + "\tshort .\n")
    with pytest.raises(MaskbenchError, match=r"long.tsv:2: a sentence is \d+ tokens, more than the model.s 510"):
        run_compare(load_config(base + [f"compare.zero_shot={long}", f"run.dir={tmp_path / 'c3'}"], root="finetune"))
    assert not (tmp_path / "c3").exists()


# ------------------------------------------------------------------ every bad input: one line
BAD_FILES = {
    "missing.jsonl": (b'{"sentence_good": "a b ."}\n', "no \"sentence_bad\" field"),
    "empty.jsonl": (b"", "holds no pairs"),
    "blank.tsv": (b"\n\n  \n", "holds no pairs"),
    "latin1.tsv": ("caf\xe9 ok\tcaf\xe9 no\n".encode("latin-1"), "not UTF-8"),
    "columns.tsv": (b"only one column\n", "1 tab-separated column"),
    "four.tsv": (b"a\tb\tc\td\n", "4 tab-separated columns"),
    "nul.tsv": (b"a\x00b\tc\n", "NUL byte"),
    "list.jsonl": (b'["a", "b"]\n', "not an object"),
    "broken.jsonl": (b'{"sentence_good": \n', "not a JSON object"),
    "deep.jsonl": (b"[" * 100000 + b"]" * 100000 + b"\n", "not a JSON object"),
    "number.jsonl": (b'{"sentence_good": 3, "sentence_bad": "a"}\n', "not text"),
    "emptysent.tsv": (b"\tthe city\n", "sentence_good is empty"),
    "pairs.csv": (b"a,b\n", "suffix says the format"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_pairs_file_is_one_line(runs, tmp_path, name):
    data, needle = BAD_FILES[name]
    f = tmp_path / name
    f.write_bytes(data)
    err = one_line(RUNNER.invoke(app, ["score", str(runs["enc"]), "--pairs", str(f)]))
    assert needle in err and name in err


def test_bad_paths_options_and_runs_are_one_line(runs, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b .\tb a .\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    nockpt = tmp_path / "run-without-checkpoint"
    nockpt.mkdir()
    (nockpt / "config.yaml").write_text("seed: 0\n")
    (nockpt / "checkpoints").mkdir()
    enc, final = str(runs["enc"]), str(runs["enc"] / "checkpoints" / "final")
    cases = {
        ("--pairs", str(tmp_path / "nope.tsv")): "does not exist",
        ("--pairs", str(empty)): "holds no .jsonl",
        ("--pairs", str(tsv), "--method", "best"): "--method best",
        ("--pairs", str(tsv), "--method", "all-masked"): "for encoder-decoders",
        ("--pairs", str(tsv), "--checkpoints", "x"): "--checkpoints x",
        ("--pairs", str(tsv), "--checkpoints", "2,,4"): "--checkpoints 2,,4",
        ("--pairs", str(tsv), "--checkpoints", "-2"): "--checkpoints -2",
        ("--pairs", str(tsv), "--checkpoints", "2,2"): "repeats 2",
        ("--pairs", str(tsv), "--checkpoints", "\u00b2"): "--checkpoints \u00b2: give all",  # isdigit, not int()
        ("--pairs", str(tsv), "--checkpoints", "\u0662"): "--checkpoints \u0662: give all",  # int() takes it
        ("--pairs", str(tsv), "--checkpoints", "5"): "no checkpoint at step 5; it has 2, 4, 6",
        ("--pairs", str(tsv), "-o", str(tmp_path / "fig.txt")): "not an image format",
        ("--pairs", str(tsv), "--seed", str(2 ** 64)): "--seed",
        ("--pairs", str(tsv), "--seed", "-1"): "--seed -1",
    }
    for args, needle in cases.items():
        assert needle in one_line(RUNNER.invoke(app, ["score", enc, *args])), args
    assert "run folder" in one_line(RUNNER.invoke(app, ["score", final, "--pairs", str(tsv), "--checkpoints", "all"]))
    for folder in (nockpt, empty, tmp_path / "missing-run"):
        one_line(RUNNER.invoke(app, ["score", str(folder), "--pairs", str(tsv)]))
    long = tmp_path / "long.tsv"
    long.write_text(("word " * 600) + "\tshort\n")
    assert "tokens, more than the model's" in one_line(RUNNER.invoke(app, ["score", enc, "--pairs", str(long)]))
    assert "Missing option '--pairs'" in one_line(RUNNER.invoke(app, ["score", enc]))


def test_only_line_breaks_end_a_line_of_a_pairs_file(tmp_path):
    """A form feed, NEL or U+2028 inside a sentence (JSON allows U+2028 unescaped) is text: str.splitlines() would
    cut the line there and report a column count or a JSON error the file does not have. CR-only endings count."""
    from maskbench.zeroshot.pairs import read_file

    tsv = tmp_path / "odd.tsv"
    tsv.write_text("the city\x0c is new .\tthe city are new .\ra\x85 b .\tb a .\r\n\u2028c d .\td c .\n", newline="")
    pairs = read_file(tsv)
    assert [(p.good, p.where.rsplit(":", 1)[1]) for p in pairs] == [
        ("the city\x0c is new .", "1"), ("a\x85 b .", "2"), ("c d .", "3")]
    jsonl = tmp_path / "odd.jsonl"
    jsonl.write_text('{"sentence_good": "a\u2028b .", "sentence_bad": "b\u2029a ."}\n', encoding="utf-8")
    assert [(p.good, p.bad) for p in read_file(jsonl)] == [("a\u2028b .", "b\u2029a .")]


def test_a_pipe_named_as_pairs_is_one_line_not_a_wait(runs, tmp_path):
    import os

    fifo = tmp_path / "pairs.tsv"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would wait forever
    err = one_line(RUNNER.invoke(app, ["score", str(runs["enc"]), "--pairs", str(fifo)]))
    assert "is not a regular file" in err and "pairs.tsv" in err


def test_an_unwritable_figure_is_refused_before_any_scoring(runs, tmp_path, monkeypatch):
    """-o was first written after every pair of every run had been scored."""
    import maskbench.zeroshot.evaluate

    def never(*a, **k):
        raise AssertionError("scored before the figure's path was tried")
    monkeypatch.setattr(maskbench.zeroshot.evaluate, "score_source", never)
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b .\tb a .\n")
    err = one_line(RUNNER.invoke(app, ["score", str(runs["enc"]), "--pairs", str(tsv), "-o",
                                       str(tmp_path / ("x" * 300 + ".png"))]))
    assert "File name too long" in err and "-o" in err, err
    (tmp_path / "notes.txt").write_text("")
    err = one_line(RUNNER.invoke(app, ["score", str(runs["enc"]), "--pairs", str(tsv), "-o",
                                       str(tmp_path / "notes.txt" / "fig.png")]))
    assert "a file is there where a folder is needed" in err, err


def test_a_scores_standard_error_is_empty_off_a_terminal(runs, tmp_path):
    """rich's transient progress bar printed an empty line into a log or a pipe."""
    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\n")
    result = RUNNER.invoke(app, ["score", str(runs["enc"]), "--pairs", str(tsv), "--json"])
    assert result.exit_code == 0 and result.stderr == "", repr(result.stderr)


def test_a_fine_tuned_run_is_refused_in_one_line(tiny_overrides, runs, tmp_path):
    from test_finetune import ft_overrides, write_tasks

    from maskbench.train.finetune import run_finetune

    files = write_tasks(tmp_path)
    ft = run_finetune(load_config(ft_overrides(tiny_overrides, "sst2", files, "encoder") + [
        f"init={runs['enc']}", "train.max_steps=2", f"run.dir={tmp_path / 'ft'}"], root="finetune"))
    tsv = tmp_path / "p.tsv"
    tsv.write_text("a b .\tb a .\n")
    assert "fine-tuned task model" in one_line(RUNNER.invoke(app, ["score", str(ft), "--pairs", str(tsv)]))


def test_scores_are_finite_and_the_json_is_strict(runs, tmp_path):
    tsv = tmp_path / "p.tsv"
    tsv.write_text("the river was in the city .\tthe river were in the city .\n")
    out = _score_json([str(runs["mass"]), str(runs["ul2"]), str(runs["bart_delete"]), "--pairs", str(tsv),
                       "--method", "pll-word", "--per-token"])
    for run in out["runs"]:
        assert run["per_token"] and run["arch"] == "encoder_decoder"
        assert math.isfinite(run["overall"]["pretrained"]["accuracy"])
