"""Property-based: whatever a user gives — generated values for every config option of every group, generated
files for every task reader, generated arguments for every command — maskbench ends in a result or in at most
three lines with exit 2, never a traceback and never the internal-error line (cli._guard's safety net must not
become the message). A few hundred examples here; `-m slow` runs ten times as many.

Commands run in-process (typer's CliRunner); training itself is replaced by a stub where a generated command
would start one, so what is exercised is everything up to the work: parsing, configs, files, models loaded."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from maskbench.cli import app  # noqa: E402
from maskbench.config import CONF_DIR, load_config  # noqa: E402
from maskbench.errors import MaskbenchError  # noqa: E402

RUNNER = CliRunner()
SCALE = [pytest.param(1, id="ci"), pytest.param(10, id="more", marks=pytest.mark.slow)]


def check(examples: int, strategy, body) -> None:
    """Run `body` on `examples` values drawn from `strategy` (deterministic in CI: the same examples each run)."""
    @settings(max_examples=examples, deadline=None, derandomize=examples < 200, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value):
        body(value)
    run()


def assert_clean(result, what) -> None:
    """A result (exit 0) or a refusal (exit 2, one to three lines), and never a traceback or the safety net."""
    err = result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (what, repr(result.exception))
    assert result.exit_code in (0, 2), (what, result.exit_code, err[-2000:])
    assert "internal error" not in err and "Traceback" not in err, (what, err[-2000:])
    if result.exit_code == 2:
        assert 1 <= len(err.strip().splitlines()) <= 3, (what, err)


def invoke(args: list[str]):
    return RUNNER.invoke(app, args, catch_exceptions=True)


# ------------------------------------------------------------------ values for every config option
FIXED = ["", "null", "nan", "inf", "-inf", "-1", "0", "1", "-0.5", "1.5", "1e308", "-1e308", "1e-320",
         "99999999999999999999999", "-99999999999999999999", str(2 ** 63), "true", "abc", "[]", "{}", "[1,2]",
         "[[1]]", "[nan]", "{a: 1}", "'x y'", "\udcff", "a\udcfeb", "${oc.env:MASKBENCH_NOPE}", "${nope}",
         "'\x00'", "[a,b]", "[1,-1]", "x" * 300, "/", ".", "~", "-", "_"]
VALUES = st.one_of(
    st.sampled_from(FIXED),
    st.integers(-2 ** 70, 2 ** 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="=,"), max_size=12),
    st.lists(st.integers(-5, 10 ** 6), max_size=3).map(lambda xs: "[" + ",".join(map(str, xs)) + "]"),
)


def _fields(cls, prefix: str):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from _fields(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def _first_option(group: str, key: str) -> dict[str, str]:
    """The first packaged option of `group` for each value of its `key` (corruption family, task kind)."""
    import yaml

    out = {}
    for path in sorted((CONF_DIR / group).glob("*.yaml")):
        out.setdefault(str((yaml.safe_load(path.read_text()) or {}).get(key, "")), path.stem)
    return out


def option_keys() -> list[tuple[list[str], str]]:
    """(the overrides that select the group's schema, a key) for every option of every group of both roots."""
    from maskbench.config.schema import GROUP_SCHEMAS
    from maskbench.config.schema.corruption import FAMILIES
    from maskbench.config.schema.train import FinetuneTrainConfig, TrainConfig
    from maskbench.tasks import KINDS

    keys = [([], k) for k in ("seed", "init")] + [(["task=sst2"], k) for k in ("seed", "init")]
    for group, cls in GROUP_SCHEMAS.items():
        base = ["task=sst2"] if group == "compare" else []
        keys += [(base, k) for k in _fields(cls, f"{group}.")]
    keys += [([], k) for k in _fields(TrainConfig, "train.")]
    keys += [(["task=sst2"], k) for k in _fields(FinetuneTrainConfig, "train.")]
    families = _first_option("corruption", "family")
    for family, cls in FAMILIES.items():
        keys += [([f"corruption={families[family]}"], k) for k in _fields(cls, "corruption.")]
    kinds = _first_option("task", "kind")
    for kind_name, kind in KINDS.items():
        keys += [([f"task={kinds[kind_name]}"], k) for k in _fields(kind.schema, "task.")]
    return keys


KEYS = option_keys()


def test_every_group_and_option_is_generated():
    """The generator covers every group of both commands (a new group or option is covered without a change here)."""
    groups = {k.split(".")[0] for _, k in KEYS}
    assert groups >= {"seed", "init", "arch", "model", "data", "train", "runtime", "run", "sweep", "compare",
                      "corruption", "task"}
    assert ([], "corruption.noise_density") not in KEYS and (["corruption=t5_span"], "corruption.noise_density") in KEYS
    assert len(KEYS) > 150


@pytest.mark.parametrize("scale", SCALE)
def test_any_value_of_any_option_is_a_result_or_one_line(scale, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `config show` names a run folder under ./outputs; nothing is written
    ops = st.sampled_from(["{k}={v}", "{k}={v}", "{k}={v}", "+{k}={v}", "~{k}", "++{k}={v}"])
    cases = st.tuples(st.sampled_from(KEYS), ops, VALUES)

    def body(case):
        (base, key), op, value = case
        override = op.format(k=key, v=value)
        assert_clean(invoke(["config", "show", *base, override]), override)
    check(150 * scale, cases, body)


def test_the_generated_hostile_values_do_reach_the_checks():
    """The property above can fail: these values are refused with the key named, not accepted."""
    for over in ("train.lr=nan", "model.d_model=99999999999999999999999", "seed=-1", "data.seq_len=inf",
                 "run.name='\x00'", "corruption.mask_prob=0"):
        with pytest.raises(MaskbenchError, match=over.split("=")[0]):
            load_config([over])


# ------------------------------------------------------------------ files for every task reader
def _valid(kind: str) -> str:
    if kind == "tsv":
        return "sentence\tlabel\nthe river film\t1\na bad film\t0\n"
    if kind == "csv":
        return 'sentence,label\n"the river, film",1\na bad film,0\n'
    if kind == "jsonl":
        return '{"sentence": "the river film", "label": "1"}\n{"sentence": "a bad film", "label": "0"}\n'
    if kind == "pair":
        return "sentence1\tsentence2\tgold_label\nthe river\ta film\tentailment\nthe city\tthe war\tcontradiction\n"
    if kind == "conllu":
        return ("# sent_id = 1\n1\tThe\tthe\tDET\t_\t_\t2\tdet\t_\t_\n2\triver\triver\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
                "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_\n2\tn't\tnot\tPART\t_\t_\t1"
                "\tadvmod\t_\t_\n\n")
    if kind == "conll":
        return "the DET\nriver NOUN\n\nfilm NOUN\n"
    return json.dumps({"data": [{"paragraphs": [{"context": "the river runs north of the city .", "qas": [
        {"id": "q1", "question": "where ?", "answers": [{"text": "north", "answer_start": 15}]},
        {"id": "q2", "question": "what ?", "answers": [{"text": "the river", "answer_start": 0}]}]}]}]})


MUTATIONS = ["none", "empty", "bom", "crlf", "cr", "binary", "nul", "latin1", "drop_first_line", "drop_last_field",
             "extra_field", "unknown_label", "empty_label", "dash_label", "underscore_label", "duplicate",
             "duplicate_ids", "truncate", "only_header", "blank_lines", "tabs_to_spaces", "huge_line", "no_newline",
             "json_null", "json_list", "deep_json", "number_label"]


def mutate(text: str, how: str, rnd) -> bytes:
    lines = text.splitlines()
    if how == "empty":
        return b""
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if how == "crlf":
        return text.replace("\n", "\r\n").encode()
    if how == "cr":
        return text.replace("\n", "\r").encode()
    if how == "binary":
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200)))
    if how == "nul":
        return text[: len(text) // 2].encode() + b"\x00" + text[len(text) // 2:].encode()
    if how == "latin1":
        return text.encode() + "caf\xe9\n".encode("latin-1")
    if how == "drop_first_line":
        return "\n".join(lines[1:]).encode()
    if how == "drop_last_field":
        return "\n".join(line.rsplit("\t", 1)[0].rsplit(",", 1)[0].rsplit(" ", 1)[0] for line in lines).encode()
    if how == "extra_field":
        return "\n".join(line + "\textra" if line else line for line in lines).encode()
    if how in ("unknown_label", "empty_label", "dash_label", "underscore_label", "number_label"):
        new = {"unknown_label": "zzz", "empty_label": "", "dash_label": "-", "underscore_label": "_",
               "number_label": "7"}[how]
        for old in ("\t1\n", ",1\n", '"label": "1"', "\tentailment", " DET", "\tDET\t", '"text": "north"'):
            if old in text:
                repl = old.replace("1", new).replace("entailment", new).replace("DET", new).replace("north", new)
                return text.replace(old, repl, 1).encode()
        return text.encode()
    if how == "duplicate":
        return (text + "\n".join(lines[1:]) + "\n").encode()
    if how == "duplicate_ids":
        return text.replace('"q2"', '"q1"').encode()
    if how == "truncate":
        return text[: rnd.randrange(len(text))].encode()
    if how == "only_header":
        return (lines[0] + "\n").encode()
    if how == "blank_lines":
        return text.replace("\n", "\n\n\n").encode()
    if how == "tabs_to_spaces":
        return text.replace("\t", " ").encode()
    if how == "huge_line":
        return (text + "word " * 5000 + "\n").encode()
    if how == "no_newline":
        return text.rstrip("\n").encode()
    if how == "json_null":
        return text.replace('"the river film"', "null").replace('"where ?"', "null").encode()
    if how == "json_list":
        return text.replace('"the river film"', "[1, 2]").replace('"paragraphs"', '"paragraphs": [], "x"').encode()
    if how == "deep_json":
        return ("[" * 100000 + "]" * 100000).encode()
    return text.encode()


# (task preset, the reader format, the valid sample, the file suffix)
READERS = [("sst2", "tsv", "tsv", ".tsv"), ("sst2", "csv", "csv", ".csv"), ("sst2", "jsonl", "jsonl", ".jsonl"),
           ("nli", "tsv", "pair", ".tsv"), ("pos", "conllu", "conllu", ".conllu"), ("pos", "conll", "conll", ".conll"),
           ("qa", "squad", "squad", ".json")]


def _reading_ends_cleanly(fn) -> None:
    """What the CLI's guard needs: a result, or a MaskbenchError of at most three lines (any other exception
    would be the internal-error line)."""
    try:
        fn()
    except MaskbenchError as exc:
        assert 1 <= len(str(exc).strip().splitlines()) <= 3, str(exc)


@pytest.mark.parametrize("scale", SCALE)
def test_any_task_file_is_read_or_refused_in_one_line(scale, tiny_setup, tmp_path):
    """Every reader (TSV, CSV, JSON lines, pairs, CoNLL-U, CoNLL, SQuAD) as fine-tuning reads a train and an
    eval file: read, checked against one label set and encoded, or one line."""
    import random

    from maskbench.data.tokenizer import Vocab
    from maskbench.tasks.loading import load_task

    _, _, tok, vocab, _ = tiny_setup
    cases = st.tuples(st.sampled_from(READERS), st.sampled_from(MUTATIONS), st.sampled_from(MUTATIONS),
                      st.integers(0, 2 ** 32))

    def body(case):
        (preset, fmt, sample, suffix), m_train, m_eval, seed = case
        rnd = random.Random(seed)
        train, dev = tmp_path / f"train{suffix}", tmp_path / f"dev{suffix}"
        train.write_bytes(mutate(_valid(sample), m_train, rnd))
        dev.write_bytes(mutate(_valid(sample), m_eval, rnd))
        extra = []
        if preset == "pos" and fmt == "conll":
            extra += ["task.word_column=0", "task.tag_column=1"]
        if preset == "qa":
            extra += ["task.max_len=32", "task.doc_stride=8", "task.max_query_len=8"]
        cfg = load_config([f"task={preset}", f"task.format={fmt}", f"task.train_file={train}", f"task.eval_file={dev}",
                           *extra], root="finetune")
        _reading_ends_cleanly(lambda: load_task(cfg.task, tok, Vocab.from_tokenizer(tok), "encoder"))
    check(120 * scale, cases, body)


@pytest.fixture(scope="module")
def task_runs(tiny_overrides, tmp_path_factory):
    """A tiny fine-tuning per task kind, to predict with (1 step each)."""
    from maskbench.train.finetune import run_finetune

    root = tmp_path_factory.mktemp("predict-runs")
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))] + [
        "model=tiny", "train.max_steps=1", "train.eval_every=1", "train.batch_size=2"]
    runs = {}
    for preset, sample, suffix, extra in [("sst2", "tsv", ".tsv", []),
                                          ("nli", "pair", ".tsv", ["task.format=tsv"]),
                                          ("pos", "conllu", ".conllu", []),
                                          ("qa", "squad", ".json", ["task.max_len=32", "task.doc_stride=8",
                                                                    "task.max_query_len=8"])]:
        data = root / f"{preset}{suffix}"
        data.write_text(_valid(sample))
        runs[preset] = run_finetune(load_config(common + [f"task={preset}", f"task.train_file={data}",
                                                          f"task.eval_file={data}", f"run.dir={root / preset}", *extra],
                                                root="finetune"))
    return runs


PREDICT_FORMATS = {"sst2": [("tsv", ".tsv"), ("csv", ".csv"), ("jsonl", ".jsonl"), ("tsv", ".txt")],
                   "nli": [("pair", ".tsv"), ("pair", ".txt")],
                   "pos": [("conllu", ".conllu"), ("conll", ".conll"), ("conll", ".txt")],
                   "qa": [("squad", ".json"), ("squad", ".jsonl"), ("squad", ".txt")]}


@pytest.mark.parametrize("scale", SCALE)
def test_any_file_given_to_predict_is_predicted_or_one_line(scale, task_runs, tmp_path):
    """predict --file with every reader, labelled or not, damaged or not: predictions, or one line that offers
    no task.* training key."""
    import random

    cases = st.tuples(st.sampled_from([(t, f, s) for t, fs in PREDICT_FORMATS.items() for f, s in fs]),
                      st.sampled_from(MUTATIONS), st.integers(0, 2 ** 32))

    def body(case):
        (task, sample, suffix), how, seed = case
        f = tmp_path / f"in{suffix}"
        f.write_bytes(mutate(_valid(sample), how, random.Random(seed)))
        result = invoke(["predict", str(task_runs[task]), "--file", str(f)])
        assert_clean(result, (task, suffix, how))
        if result.exit_code == 2:
            assert "task." not in result.stderr, result.stderr  # predict's fixes are predict's own
        else:
            rows = [json.loads(x) for x in result.stdout.splitlines()]
            assert rows and all("input" in r and "line" in r for r in rows)
    check(40 * scale, cases, body)


# ------------------------------------------------------------------ minimal-pair files (maskbench score --pairs)
PAIR_SAMPLES = {".jsonl": '{"sentence_good": "the river was here .", "sentence_bad": "the river were here .", '
                          '"UID": "agreement", "field": "morphology"}\n{"sentence_good": "who was there ?", '
                          '"sentence_bad": "who there was ?"}\n',
                ".tsv": "sentence_good\tsentence_bad\tgroup\nthe river was here .\tthe river were here .\tagree\n"
                        "who was there ?\twho there was ?\n"}
PAIR_MUTATIONS = MUTATIONS + ["u2028", "form_feed", "nel", "tabs_everywhere", "uid_types", "no_fields"]


def mutate_pairs(text: str, how: str, rnd) -> bytes:
    """The task-file mutations, and what only a pairs file has: separators inside sentences, odd UID types."""
    if how in ("u2028", "form_feed", "nel"):  # inside a sentence: text, not a line break
        return text.replace("river", "ri" + {"u2028": "\u2028", "form_feed": "\x0c", "nel": "\x85"}[how] + "ver").encode()
    if how == "tabs_everywhere":
        return text.replace(" ", "\t").encode()
    if how == "uid_types":
        return text.replace('"agreement"', "[1, {\"a\": null}]").replace('"morphology"', "3.5").encode()
    if how == "no_fields":
        return text.replace("sentence_bad", "sentence_worse").encode()
    return mutate(text, how, rnd)


@pytest.mark.parametrize("scale", SCALE)
def test_any_pairs_file_is_read_or_refused_in_one_line(scale, tmp_path):
    """--pairs / compare.zero_shot= readers on generated files: pairs (two non-empty sentences each, located by
    FILE:LINE), or one line naming the file; a separator inside a sentence never changes the count."""
    import random

    from maskbench.zeroshot.pairs import read_pairs

    cases = st.tuples(st.sampled_from(sorted(PAIR_SAMPLES)), st.sampled_from(PAIR_MUTATIONS), st.integers(0, 2 ** 32))

    def body(case):
        suffix, how, seed = case
        f = tmp_path / f"pairs{suffix}"
        f.write_bytes(mutate_pairs(PAIR_SAMPLES[suffix], how, random.Random(seed)))
        try:
            pairs = read_pairs([f])
        except MaskbenchError as exc:
            assert len(str(exc).strip().splitlines()) == 1 and "pairs" in str(exc), str(exc)
            return
        assert pairs and all(p.good.strip() and p.bad.strip() and p.where.startswith(str(f)) for p in pairs)
        if how in ("none", "u2028", "form_feed", "nel", "bom", "crlf", "cr", "uid_types", "blank_lines"):
            assert len(pairs) == 2, (how, pairs)
    check(60 * scale, cases, body)


# ------------------------------------------------------------------ what a user's objective returns
@pytest.fixture(scope="module")
def tiny_models(tiny_setup):
    from maskbench.models import build_model

    cfg, _, _, vocab, store = tiny_setup
    return {arch: build_model(cfg.model, arch, vocab.size).eval() for arch in ("encoder", "encoder_decoder")}


def _tensor(shape, low, high, dtype):
    import torch

    if 0 in shape:
        return torch.zeros(shape, dtype=dtype)
    return torch.randint(low, high, shape).to(dtype)


@pytest.mark.parametrize("scale", SCALE)
def test_whatever_an_objective_returns_is_framed_and_trained_or_one_line(scale, tiny_setup, tiny_models):
    """corruption/registry.check_noised on generated Noised (shapes, dtypes, ids past the vocabulary, lengths past
    the source, labels of another shape, missing fields): a refusal of one line naming the objective, or a batch
    that frames and gives a finite loss; never an exception from inside."""
    import torch

    from maskbench.batch import IGNORE
    from maskbench.corruption.base import Diagnostics, Noise, Noised
    from maskbench.corruption.registry import check_noised
    from maskbench.data.blocks import Blocks
    from maskbench.models.losses import pretrain_terms
    from maskbench.config.schema.corruption import CorruptionConfig

    cfg, _, _, vocab, _ = tiny_setup
    V, B, C = vocab.size, 3, 6
    blocks = Blocks(torch.randint(vocab.n_special, V, (B, C)), torch.zeros(B, C, dtype=torch.bool),
                    torch.zeros(B, C, dtype=torch.long))
    plugin = CorruptionConfig(name="mine", objective="mine.py:Mine")
    dtypes = st.sampled_from([torch.int64, torch.int64, torch.int64, torch.int32, torch.float32, torch.bool])
    rows = st.sampled_from([B, B, B, B - 1, B + 1])
    lengths = st.integers(0, 8)
    ids = st.tuples(rows, lengths, st.sampled_from([(0, V), (0, V), (-1, V), (0, V + 2), (IGNORE, V)]), dtypes)
    optional = lambda s: st.one_of(st.none(), s)  # noqa: E731
    labels = st.one_of(st.just("like source"), st.just("like source"), st.none(), ids)  # mostly well shaped
    cases = st.tuples(st.sampled_from(["encoder", "encoder_decoder"]), ids, labels, st.one_of(st.none(), ids),
                      st.sampled_from(["full", "full", "short", "long", "negative", "scalar"]),
                      st.sampled_from([True, True, True, False]), optional(st.integers(-1, 9)),
                      st.integers(0, 2 ** 16))

    def make(spec, labels=False, like=None):
        if spec is None:
            return None
        n, S, (low, high), dtype = (*like.shape, (0, V), torch.int64) if spec == "like source" else spec
        t = _tensor((n, S), low, high, dtype)
        if labels and dtype == torch.int64 and S:
            t[torch.rand(n, S) < 0.5] = IGNORE
        return t

    def body(case):
        arch, source, mlm, target, how_long, as_noised, sep, seed = case
        torch.manual_seed(seed)
        src = make(source)
        mlm = make(mlm, True, like=src)
        S = src.shape[1]
        n = {"full": torch.full((B,), S), "short": torch.full((B,), max(S - 1, 0)), "long": torch.full((B,), S + 1),
             "negative": torch.full((B,), -1), "scalar": torch.tensor(S)}[how_long]
        diag = Diagnostics(blocks.tokens, torch.zeros(B, C, dtype=torch.bool), torch.zeros(B, C, dtype=torch.int8))
        noised = Noised(src, n, diag, mlm, make(target, True),
                        sep_at=None if sep is None else torch.full((B,), sep)) if as_noised else (src, n)
        try:
            check_noised(noised, blocks, vocab, plugin, "Mine", arch)
        except MaskbenchError as exc:
            assert "\n" not in str(exc) and "corruption.objective='mine.py:Mine'" in str(exc), str(exc)
            return
        batch = Noise(plugin, vocab).frame(noised, arch)
        with torch.no_grad():
            term = pretrain_terms(tiny_models[arch], batch)["mlm"]
        assert torch.isfinite(term.loss_sum) and int(term.count) >= 0
        framed.append(arch)
    framed: list = []
    check(80 * scale, cases, body)
    assert len(set(framed)) == 2, framed  # both architectures had Noised that passed and trained


# ------------------------------------------------------------------ arguments for every command
@pytest.fixture(scope="module")
def stubbed_training(monkeypatch_module):
    """Commands that would train stop after their checks (their configs composed and validated)."""
    calls = []

    def stub(*args, **kwargs):
        calls.append(args)
        return Path(".")
    for target in ("maskbench.train.pretrain.run_pretrain", "maskbench.train.finetune.run_finetune",
                   "maskbench.train.compare.run_compare", "maskbench.train.compare.run_compare_tasks",
                   "maskbench.train.sweep.run_sweep"):
        monkeypatch_module.setattr(target, stub)
    return calls


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def places(tiny_overrides, task_runs, tmp_path_factory):
    """Paths a user might give: a pretraining run, a fine-tuning, a missing path, a file, a binary file, a folder."""
    from maskbench.train.pretrain import run_pretrain

    root = tmp_path_factory.mktemp("places")
    pre = run_pretrain(load_config(tiny_overrides + [f"run.dir={root / 'pre'}", "train.max_steps=2"]))
    import shutil

    for name, damage in (("bad-yaml", {"config.yaml": ": {["}), ("bad-json", {"summary.json": "[", "state.json": "{"}),
                         ("bad-weights", {"model.safetensors": "\x00" * 64}), ("bad-tokenizer", {"tokenizer.json": "{"}),
                         ("bad-task", {"task.json": '{"kind": 5}'})):
        run = shutil.copytree(task_runs["sst2"] if name == "bad-task" else pre, root / name)
        for file, text in damage.items():  # in the run folder and in its final checkpoint
            for where in (run, run / "checkpoints" / "final"):
                if (where / file).exists() or file == "summary.json":
                    (where / file).write_text(text)
    shape = shutil.copytree(pre, root / "bad-shape")  # a model config edited by hand: a head count of 0
    for where in (shape, shape / "checkpoints" / "final"):
        (where / "config.yaml").write_text((where / "config.yaml").read_text().replace("  n_heads: 2\n",
                                                                                         "  n_heads: 0\n"))
    (root / "file.txt").write_text("apple\tthe apple fell\n")
    (root / "binary.bin").write_bytes(bytes(range(256)))
    (root / "folder").mkdir()
    return {"pre": str(pre), "ft": str(task_runs["sst2"]), "tag": str(task_runs["pos"]), "missing": str(root / "nope"),
            "file": str(root / "file.txt"), "binary": str(root / "binary.bin"), "folder": str(root / "folder"),
            "ckpt": str(pre / "checkpoints" / "final"), "out": str(root / "out" / "x.png"),
            **{name: str(root / name) for name in ("bad-yaml", "bad-json", "bad-weights", "bad-tokenizer", "bad-task",
                                                   "bad-shape")}}


TEXTS = ["", " ", "[MASK]", "a [MASK] b", "[MASK] [MASK] [MASK]", "the river", "\udcff", "a\x00b", "word " * 700,
         "[mask]", "\t", "日本語 [MASK]"]
NUMBERS = ["-1", "0", "1", "3", "100000", str(2 ** 64), "nan", "abc", "1.5"]


def command_args(places, tiny_overrides):
    place = st.sampled_from(sorted(places.values()))
    text, number = st.sampled_from(TEXTS), st.sampled_from(NUMBERS)
    over = st.sampled_from(FIXED).map(lambda v: f"train.max_steps={v}") | st.sampled_from(
        ["task=sst2", "task=qa", "init=scratch", f"init={places['missing']}", f"init={places['pre']}",
         f"compare.init={places['pre']}", "compare.jobs=0", "train.budget=5", "train.budget_unit=tokens",
         "sweep.tasks=[nosuch]", "corruption=t5_span", "~train", "experiment=nosuch", "x", "=", "a=b=c"])
    overs = st.lists(over, max_size=3).map(lambda xs: tiny_overrides + xs)
    opt = lambda name, values: st.lists(st.tuples(st.just(name), values), max_size=1)  # noqa: E731
    flat = lambda parts: [x for group in parts for pair in group for x in pair]  # noqa: E731
    return st.one_of(
        st.tuples(st.sampled_from(["pretrain", "finetune", "compare", "sweep"]), overs).map(lambda t: [t[0], *t[1]]),
        st.tuples(overs, opt("--text", text), opt("--seed", number), opt("--step", number),
                  opt("--model", place)).map(lambda t: ["corrupt", *t[0], *flat(t[1:])]),
        st.tuples(place, text, opt("--top-k", number), opt("--beam", number)).map(
            lambda t: ["fill", t[0], t[1], *flat(t[2:])]),
        st.tuples(place, opt("--word", text), opt("--file", place), opt("-o", place)).map(
            lambda t: ["probe", t[0], *flat(t[1:])]),
        st.tuples(place, opt("--text", text), opt("--text-pair", text), opt("--file", place),
                  opt("--batch-size", number), opt("--step", number)).map(lambda t: ["predict", t[0], *flat(t[1:])]),
        st.tuples(st.lists(place, min_size=1, max_size=2), opt("--pairs", place),
                  opt("--method", st.sampled_from(["pll", "pll-word", "all-masked", "best"])),
                  opt("--checkpoints", st.sampled_from(["all", "2", "1,1", "x", "", "\u00b2", "\u0662", "2,-1"])
                      | number),
                  opt("--seed", number), opt("-o", place)).map(lambda t: ["score", *t[0], *flat(t[1:])]),
        st.tuples(st.lists(place, min_size=1, max_size=3), opt("-o", place), opt("--x", st.sampled_from(
            ["steps", "flops", "tokens", "nope"]))).map(lambda t: ["plot", *t[0], *flat(t[1:])]),
        st.tuples(st.lists(place, min_size=1, max_size=2), opt("-o", place)).map(
            lambda t: ["report", *t[0], *flat(t[1:])]),
        st.tuples(place, opt("--step", number)).map(lambda t: ["export", t[0], "-o", places["missing"] + "-x",
                                                               *flat(t[1:])]),
        st.lists(st.sampled_from(FIXED + ["corruption=bart", "task=pos"]), max_size=2).map(
            lambda xs: ["config", "show", *xs]),
        st.sampled_from(["corruption", "nosuch", "", "\udcff", "task"]).map(lambda g: ["config", "list", g]),
    )


@pytest.mark.parametrize("scale", SCALE)
def test_any_arguments_to_any_command_are_a_result_or_one_line(scale, places, tiny_overrides, stubbed_training,
                                                               tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def body(args):
        assert_clean(invoke(args), args[:6])
    check(60 * scale, command_args(places, tiny_overrides), body)


# ------------------------------------------------------------------ the Python API: maskbench.collators
@pytest.fixture(scope="module")
def bert_tokenizer(corpus_file, tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    from hf_models import bert_folder

    return transformers.AutoTokenizer.from_pretrained(str(bert_folder(corpus_file, tmp_path_factory.mktemp("b") / "m")))


IDS = st.one_of(st.lists(st.integers(-3, 500), max_size=12), st.just("not ids"), st.just([[1, 2], [3]]),
                st.just([1.5, 2.5]), st.just(None), st.just([2 ** 70]))
EXAMPLE = st.one_of(IDS, st.fixed_dictionaries({"input_ids": IDS}), st.fixed_dictionaries({"text": st.text(max_size=5)}),
                    st.just({}), st.integers())
SETTINGS = st.dictionaries(st.sampled_from(["mask_prob", "mask_token_prob", "nsp", "whole_word", "nonsense",
                                            "mean_span_length"]),
                           st.one_of(st.floats(allow_nan=True), st.text(max_size=4), st.booleans(), st.just(object())),
                           max_size=2)


@pytest.mark.parametrize("scale", SCALE)
def test_collators_raise_one_line_errors_of_their_own_kinds(scale, bert_tokenizer):
    """make_collator and a collator's call, on any settings and batch: a batch, or a MaskbenchError, TypeError or
    ValueError of one line; never a KeyError (or anything else) from inside."""
    from maskbench.collators import make_collator

    cases = st.tuples(st.sampled_from(["bert_mlm", "span_mlm", "bart", "t5_span", "electra", "nosuch", ""]),
                      SETTINGS, st.one_of(st.lists(EXAMPLE, max_size=4), st.just({"input_ids": [1, 2]}),
                                          st.just("text")))

    def body(case):
        name, kwargs, batch = case
        try:
            make_collator(name, bert_tokenizer, **kwargs)(batch)
        except (MaskbenchError, TypeError, ValueError) as exc:
            assert type(exc) in (MaskbenchError, TypeError, ValueError) or isinstance(exc, MaskbenchError), repr(exc)
            assert str(exc) and "\n" not in str(exc).strip(), repr(exc)
    check(100 * scale, cases, body)
