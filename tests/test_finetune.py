"""Fine-tuning: official SQuAD scoring, format readers and their errors, each head on tiny models."""

import json

import pytest
import torch

from maskbench.config import load_config
from maskbench.tasks.squad_metric import exact_match, f1_score, normalize_answer, squad_scores
from maskbench.tasks.qa import read_squad
from maskbench.tasks.sentence import read_text_examples
from maskbench.tasks.tagging import read_tagged
from maskbench.errors import MaskbenchError


# ---------------------------------------------------------------- SQuAD v1.1 official scoring
def test_squad_normalisation_matches_official():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Theory") == "theory"  # 'the' inside a word stays


def test_squad_em_f1_hand_cases():
    assert exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert f1_score("Denver Broncos won", "Denver Broncos") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert f1_score("Carolina", "Denver Broncos") == 0.0
    assert f1_score("", "Denver") == 0.0
    scores = squad_scores({"q1": "Broncos", "q2": "in 1990"},
                          {"q1": ["Denver Broncos", "Broncos", "the Broncos"], "q2": ["1990", "in the year 1990"]})
    # q1: exact match with the 2nd reference. q2: vs "1990" P=1/2 R=1 -> 2/3; vs "in the year 1990"
    # (normalised "in year 1990") P=2/2 R=2/3 -> 0.8; the max over references is 0.8.
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * (1.0 + 0.8) / 2)


# ---------------------------------------------------------------- readers and their errors
def test_tsv_and_jsonl_readers(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n")
    ex = read_text_examples(tsv, "tsv", ["sentence"], "label")
    assert [(e.texts, e.label) for e in ex] == [(["good film"], "1"), (["bad film"], "0")]
    jl = tmp_path / "a.jsonl"
    jl.write_text(json.dumps({"p": "a", "h": "b", "y": "neutral"}) + "\n")
    assert read_text_examples(jl, "jsonl", ["p", "h"], "y")[0].texts == ["a", "b"]


def test_reader_errors_name_the_line(tmp_path):
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"p": "a", "y": "x"}\nnot json\n')
    with pytest.raises(MaskbenchError, match="line 2 is not JSON"):
        read_text_examples(jl, "jsonl", ["p"], "y")
    tsv = tmp_path / "bad.tsv"
    tsv.write_text("text\tlabel\nfine\t1\n")
    with pytest.raises(MaskbenchError, match="lacks \\['sentence'\\]"):
        read_text_examples(tsv, "tsv", ["sentence"], "label")
    conllu = tmp_path / "bad.conllu"
    conllu.write_text("1\tThe\tthe\tDET\n")
    with pytest.raises(MaskbenchError, match="line 1 is not CoNLL-U"):
        read_tagged(conllu, "conllu", 1, 3)
    squad = tmp_path / "bad.json"
    squad.write_text('{"version": "1.1"}')
    with pytest.raises(MaskbenchError, match="not SQuAD v1.1"):
        read_squad(squad)


def test_conllu_skips_multiword_and_empty_nodes(tmp_path):
    f = tmp_path / "x.conllu"
    rows = ["# text = Don't go.", "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_", "1\tDo\tdo\tAUX\t_\t_\t3\taux\t_\t_",
            "2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_", "2.1\tgo\tgo\tVERB\t_\t_\t_\t_\t_\t_",
            "3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_", "4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_", ""]
    f.write_text("\n".join(rows) + "\n")
    (s,) = read_tagged(f, "conllu", 1, 3)
    assert s.words == ["Do", "n't", "go", "."] and s.tags == ["AUX", "PART", "VERB", "PUNCT"]
    ws = tmp_path / "x.conll"
    ws.write_text("The DET\ncat NOUN\n\nIt PRON\n")
    assert [x.tags for x in read_tagged(ws, "conll", 0, 1)] == [["DET", "NOUN"], ["PRON"]]


# ---------------------------------------------------------------- heads on tiny models
def write_tasks(folder):
    """Tiny task files in every format."""
    sst = folder / "sst.tsv"
    sst.write_text("sentence\tlabel\n" + "".join(
        f"{'the river film was good' if i % 2 else 'the war game was bad'} {i}\t{i % 2}\n" for i in range(40)))
    nli = folder / "nli.jsonl"
    nli.write_text("".join(json.dumps({"sentence1": "the city has a river", "sentence2": s, "gold_label": g}) + "\n"
                           for s, g in [("a river is there", "entailment"), ("no river", "contradiction"),
                                        ("the city is big", "neutral")] * 12))
    pos = folder / "pos.conll"
    pos.write_text("".join("the DET\ncity NOUN\nhas VERB\na DET\nriver NOUN\n\n" for _ in range(30)))
    ctx = "The school is in the north of the city. The river runs to the south."
    squad = {"data": [{"paragraphs": [{"context": ctx, "qas": [
        {"id": f"q{i}", "question": "Where does the river run?",
         "answers": [{"text": "to the south", "answer_start": ctx.index("to the south")}]} for i in range(24)]}]}]}
    (folder / "squad.json").write_text(json.dumps(squad))
    return {"sst2": [f"task.train_file={sst}", f"task.eval_file={sst}"],
            "nli": [f"task.train_file={nli}", f"task.eval_file={nli}"],
            "pos": [f"task.train_file={pos}", f"task.eval_file={pos}", "task.format=conll", "task.word_column=0",
                    "task.tag_column=1"],
            "qa": [f"task.train_file={folder / 'squad.json'}", f"task.eval_file={folder / 'squad.json'}",
                   "task.max_len=32", "task.doc_stride=8", "task.max_query_len=12"]}


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


def ft_overrides(tiny_overrides, task, files, arch):
    common = [o for o in tiny_overrides if not o.startswith(("experiment=", "data.seq_len"))]
    return common + [f"task={task}", f"arch={arch}", "model=tiny", "train.max_steps=30", "train.batch_size=8",
                     "train.eval_every=15", "train.lr=3e-3", "task.dropout=0.0"] + files[task]


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
@pytest.mark.parametrize("task", ["sst2", "nli", "pos", "qa"])
def test_each_head_learns_its_tiny_task(tiny_overrides, task_files, tmp_path, task, arch):
    from maskbench.train.finetune import run_finetune

    cfg = load_config(ft_overrides(tiny_overrides, task, task_files, arch) + [f"run.dir={tmp_path / 'r'}"],
                      root="finetune")
    run = run_finetune(cfg)
    s = json.loads((run / "summary.json").read_text())
    metric = cfg.task.metric
    assert s["final_eval"][metric] > s["initial_eval"][metric]
    assert s["final_eval"]["loss"] < s["initial_eval"]["loss"]
    events = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {e["split"] for e in events} == {"train", "eval"}
    assert all(metric in e for e in events if e["split"] == "eval")


def _default_kind(name: str):
    """The kind `name` holding its schema's defaults: all a batch's labels and loss need of a task config."""
    from maskbench.tasks import task_kind

    kind = task_kind(name)
    return kind(kind.schema())


def test_overfit_one_batch_every_head():
    """Each head drives its loss near zero on one fixed batch (tiny model, no dropout)."""
    from maskbench.tasks.common import Feature
    from maskbench.data.tokenizer import Vocab
    from maskbench.models import build_model
    from maskbench.models.heads import TaskModel
    from maskbench.tasks.batching import collate
    from maskbench.train.evaluate import task_terms

    torch.manual_seed(0)
    V = Vocab(size=60, pad=0, unk=1, cls=2, sep=3, mask=4, bos=5, eos=6, sentinel0=7, n_sentinels=3,
          special_ids=tuple(range(10)))
    mcfg = load_config(["model=tiny"]).model
    for arch in ("encoder", "encoder_decoder"):
        for kind, n_out in (("classification", 3), ("tagging", 5), ("qa", 2)):
            feats = []
            for i in range(8):
                ids = [V.cls] + [10 + (i * 7 + j) % 50 for j in range(10)] + [V.sep]
                label = (i % 3 if kind == "classification" else
                         [-100] + [(i + j) % 5 for j in range(10)] + [-100] if kind == "tagging" else (2 + i % 4, 5 + i % 4))
                feats.append(Feature(ids, [0] * len(ids), label))
            k = _default_kind(kind)
            batch = collate(feats, k, arch, V.pad)
            model = TaskModel(build_model(mcfg, arch, V.size), k.sentence_level, n_out, 0.0)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
            terms = task_terms(k)
            for _ in range(300):  # 150 left the enc-dec tagging head at 0.06 with one intra-op thread
                s, n, _, _ = terms(model, batch)["task"]
                loss = s / n
                opt.zero_grad()
                loss.backward()
                opt.step()
            assert loss.item() < 0.05, (arch, kind, loss.item())


@pytest.mark.parametrize("arch", ["encoder", "encoder_decoder"])
def test_mean_pooling_reads_only_real_positions(arch):
    """pooling=mean: a sentence's logits do not depend on how much padding its batch added, and the
    head learns (overfits one batch) on both architectures."""
    from maskbench.tasks.common import Feature
    from maskbench.data.tokenizer import Vocab
    from maskbench.models import build_model
    from maskbench.models.heads import TaskModel
    from maskbench.tasks.batching import collate
    from maskbench.train.evaluate import task_terms

    torch.manual_seed(0)
    V = Vocab(size=60, pad=0, unk=1, cls=2, sep=3, mask=4, bos=5, eos=6, sentinel0=7, n_sentinels=3,
          special_ids=tuple(range(10)))
    mcfg = load_config(["model=tiny"]).model
    cls = _default_kind("classification")
    model = TaskModel(build_model(mcfg, arch, V.size), True, 2, 0.0, pooling="mean").eval()
    assert not hasattr(model, "dense")  # the BART dense+tanh belongs to token pooling only
    short = Feature([V.cls, 11, 12, V.sep], [0] * 4, 1)
    long_ = Feature([V.cls] + list(range(10, 30)) + [V.sep], [0] * 22, 0)
    alone = model(collate([short], cls, arch, V.pad))
    padded = model(collate([short, long_], cls, arch, V.pad))[:1]
    assert torch.allclose(alone, padded, atol=1e-5)

    feats = [Feature([V.cls] + [10 + (i * 7 + j) % 50 for j in range(3 + i)] + [V.sep], [0] * (5 + i), i % 2)
             for i in range(8)]
    batch = collate(feats, cls, arch, V.pad)
    opt = torch.optim.AdamW(model.train().parameters(), lr=1e-2)
    for _ in range(150):
        s, n, _, _ = task_terms(cls)(model, batch)["task"]
        opt.zero_grad()
        (s / n).backward()
        opt.step()
    assert (s / n).item() < 0.05


@pytest.mark.parametrize("over, needle", [
    (["task=nope"], "unknown task 'nope'"),
    (["init=/nonexistent/run"], "does not exist"),
])
def test_finetune_config_errors(over, needle):
    with pytest.raises(MaskbenchError, match=needle):
        cfg = load_config(over, root="finetune")
        from maskbench.train.finetune import resolve_init

        resolve_init(cfg)


def test_init_must_be_a_run(tmp_path):
    from maskbench.train.finetune import resolve_init

    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(MaskbenchError, match="neither a maskbench run"):
        resolve_init(load_config([f"init={tmp_path}"], root="finetune"))


def test_label_outside_label_set(tiny_overrides, task_files, tmp_path):
    from maskbench.train.finetune import run_finetune

    bad = tmp_path / "dev.jsonl"
    bad.write_text(json.dumps({"sentence1": "a", "sentence2": "b", "gold_label": "maybe"}) + "\n")
    over = ft_overrides(tiny_overrides, "nli", task_files, "encoder") + [f"task.eval_file={bad}",
                                                                        f"run.dir={tmp_path / 'r'}"]
    with pytest.raises(MaskbenchError, match="label 'maybe'.*not in the label set"):
        run_finetune(load_config(over, root="finetune"))


def test_checkpoint_from_another_model_is_refused(tiny_overrides, task_files, tmp_path):
    from maskbench.train.finetune import run_finetune
    from maskbench.train.pretrain import run_pretrain

    pre = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'pre'}", "train.max_steps=2"]))
    # Tamper: the checkpoint claims a wider model than its weights hold.
    cfg_path = pre / "checkpoints" / "final" / "config.yaml"
    cfg_path.write_text(cfg_path.read_text().replace("d_model: 32", "d_model: 64"))
    over = ft_overrides(tiny_overrides, "sst2", task_files, "encoder") + [f"init={pre}", f"run.dir={tmp_path / 'r'}"]
    with pytest.raises(MaskbenchError, match="has shape"):
        run_finetune(load_config(over, root="finetune"))


@pytest.mark.parametrize("from_checkpoint", [False, True])
def test_compare_end_to_end(tiny_overrides, task_files, tmp_path, from_checkpoint):
    from maskbench.train.compare import run_compare
    from maskbench.train.pretrain import run_pretrain

    pre = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'pre'}", "train.max_steps=4"]))
    init = pre / "checkpoints" / "final" if from_checkpoint else pre
    over = ft_overrides(tiny_overrides, "sst2", task_files, "encoder") + [
        f"compare.init={init}", "compare.seeds=[0,1]", "train.max_steps=6", "train.eval_every=3",
        f"run.dir={tmp_path / 'cmp'}"]
    out = run_compare(load_config(over, root="finetune"))
    s = json.loads((out / "summary.json").read_text())
    assert len(s["runs"]) == 4 and {r["init"] for r in s["runs"]} == {"pretrained", "scratch"}
    assert len(s["pretrained"]["values"]) == 2 and s["gap"] == pytest.approx(s["pretrained"]["mean"] - s["scratch"]["mean"], abs=1e-3)
    assert "curve_mean" in s and (out / "compare.png").read_bytes()[:4] == b"\x89PNG"
    # identical data order and seeds: the scratch runs of both seeds differ, each pair shares its seed
    for seed in (0, 1):
        p = json.loads((out / f"pretrained-s{seed}" / "summary.json").read_text())
        q = json.loads((out / f"scratch-s{seed}" / "summary.json").read_text())
        assert p["seed"] == q["seed"] == seed and p["tokens_seen"] == q["tokens_seen"]


def test_finetune_resumes_like_pretraining(tiny_overrides, task_files, tmp_path):
    """train.resume=true means the same in fine-tuning as in pretraining: continue from the newest whole
    step checkpoint (head, optimiser and RNG included) to exactly the uninterrupted run's numbers."""
    import shutil

    from maskbench.train.finetune import run_finetune

    def run(folder, *extra):
        over = ft_overrides(tiny_overrides, "pos", task_files, "encoder") + [
            f"run.dir={folder}", "train.ckpt_every=10", "train.eval_every=10", "task.dropout=0.1", *extra]
        return run_finetune(load_config(over, root="finetune"))

    def numbers(folder):
        return [(e["step"], e["split"], e["loss"]) for e in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())]

    full = run(tmp_path / "full")
    cut = run(tmp_path / "cut")
    # Pretend the run died after step 13: only the step-10 checkpoint and the metrics up to then remain.
    shutil.rmtree(cut / "checkpoints" / "final")
    shutil.rmtree(cut / "checkpoints" / "step-000020")
    (cut / "summary.json").unlink()
    kept = [ln for ln in (cut / "metrics.jsonl").read_text().splitlines() if json.loads(ln)["step"] <= 13]
    (cut / "metrics.jsonl").write_text("\n".join(kept) + "\n")
    with pytest.raises(Exception, match="train.resume=true"):
        run(cut)  # never overwritten silently
    run(cut, "train.resume=true")
    assert numbers(cut) == numbers(full)  # step for step, dropout included
    a, b = (json.loads((d / "summary.json").read_text()) for d in (full, cut))
    assert a["final_eval"] == b["final_eval"] and a["initial_eval"] == b["initial_eval"] and b["steps"] == 30


ZH_CONLLU = """# sent_id = 1
# text = 这个城市有河。
1\t这个\t这个\tDET\tDT\t_\t2\tdet\t_\tSpaceAfter=No
2\t城市\t城市\tNOUN\tNN\t_\t3\tnsubj\t_\tSpaceAfter=No
3\t有\t有\tVERB\tVV\t_\t0\troot\t_\tSpaceAfter=No
4\t河\t河\tNOUN\tNN\t_\t3\tobj\t_\tSpaceAfter=No

# sent_id = 2
1-2\t这河\t_\t_\t_\t_\t_\t_\t_\t_
1\t这\t这\tDET\tDT\t_\t2\tdet\t_\tSpaceAfter=No
2\t河\t河\tNOUN\tNN\t_\t3\tnsubj\t_\tSpaceAfter=No
3\t流淌\t流淌\tVERB\tVV\t_\t0\troot\t_\tSpaceAfter=No
"""


def test_chinese_conllu_words_without_spaces(tiny_setup, tmp_path):
    """UD Chinese: the text has no spaces; the word column is the segmentation. Each word (several
    characters) gets its tag on its first piece, multi-word ranges are skipped."""
    from maskbench.tasks.tagging import encode_tagged
    from maskbench.tasks.tagging import read_tagged

    _, _, tok, vocab, _ = tiny_setup
    f = tmp_path / "zh.conllu"
    f.write_text(ZH_CONLLU, encoding="utf-8")
    sents = read_tagged(f, "conllu", 1, 3)
    assert [s.words for s in sents] == [["这个", "城市", "有", "河"], ["这", "河", "流淌"]]
    feats = encode_tagged(sents, ["DET", "NOUN", "VERB"], tok, vocab, "encoder", 64)
    for s, feat in zip(sents, feats):
        tagged = [t for t in feat.label if t != -100]
        assert len(tagged) == len(s.words)  # one label per word, whatever its characters became
        assert tagged == [["DET", "NOUN", "VERB"].index(t) for t in s.tags]
        assert len(feat.ids) > len(s.words) + 2  # two-character words became several pieces


def test_extra_eval_sets_are_scored_under_their_names(tiny_overrides, task_files, tmp_path):
    from maskbench.train.finetune import run_finetune

    zh = tmp_path / "zh.conllu"
    zh.write_text(ZH_CONLLU, encoding="utf-8")
    over = ft_overrides(tiny_overrides, "pos", task_files, "encoder") + [
        f"run.dir={tmp_path / 'r'}", f"task.extra_eval=[{{name: zh, file: '{zh}', format: conllu, word_column: 1, tag_column: 3}}]"]
    run = run_finetune(load_config(over, root="finetune"))
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert all("zh_token_accuracy" in e and "zh_loss" in e and "token_accuracy" in e for e in evals)
    s = json.loads((run / "summary.json").read_text())
    assert s["extra_eval"]["zh"]["token_accuracy"] == s["final_eval"]["zh_token_accuracy"]
    assert s["extra_eval"]["zh"]["examples"] == 2
    units = json.loads((run / "eval_units.json").read_text())
    assert units["extra"]["zh"]["den"] == [4, 3]  # tagged words per sentence
    assert 100 * sum(units["extra"]["zh"]["num"]) / 7 == pytest.approx(s["extra_eval"]["zh"]["token_accuracy"], abs=1e-3)


def test_extra_eval_label_map(tiny_overrides, task_files, tmp_path):
    from maskbench.errors import MaskbenchError
    from maskbench.train.finetune import run_finetune

    reviews = tmp_path / "reviews.tsv"
    reviews.write_text("sentence\tlabel\nthe river film was good\tpositive\nthe war game was bad\tnegative\n")
    base = ft_overrides(tiny_overrides, "sst2", task_files, "encoder") + ["train.max_steps=4"]
    with pytest.raises(MaskbenchError, match="label 'positive'.*not in the label set"):
        run_finetune(load_config(base + [f"run.dir={tmp_path / 'a'}", f"task.extra_eval=['{reviews}']"], root="finetune"))
    mapped = f"task.extra_eval=[{{name: rev, file: '{reviews}', label_map: {{positive: '1', negative: '0'}}}}]"
    run = run_finetune(load_config(base + [f"run.dir={tmp_path / 'b'}", mapped], root="finetune"))
    s = json.loads((run / "summary.json").read_text())
    assert s["extra_eval"]["rev"]["examples"] == 2 and "accuracy" in s["extra_eval"]["rev"]


def test_compare_jobs_runs_side_by_side_with_the_same_results(tiny_overrides, task_files, tmp_path):
    """compare.jobs=2: the same fine-tunings in two processes, each run's metrics as in sequence."""
    import os

    from maskbench.train.compare import run_compare
    from maskbench.train.pretrain import run_pretrain

    pre = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'pre'}", "train.max_steps=4"]))
    over = ft_overrides(tiny_overrides, "sst2", task_files, "encoder") + [
        f"compare.init={pre}", "compare.seeds=[0,1]", "train.max_steps=6", "train.eval_every=3"]
    one = run_compare(load_config(over + [f"run.dir={tmp_path / 'seq'}"], root="finetune"))
    two = run_compare(load_config(over + [f"run.dir={tmp_path / 'par'}", "compare.jobs=2"], root="finetune"))
    for name in ("pretrained-s0", "pretrained-s1", "scratch-s0", "scratch-s1"):
        a = json.loads((one / name / "summary.json").read_text())
        b = json.loads((two / name / "summary.json").read_text())
        assert a["final_eval"] == b["final_eval"] and a["steps"] == b["steps"]
    pids = {json.loads((two / n / "env.json").read_text())["pid"] for n in ("pretrained-s0", "scratch-s1")}
    assert os.getpid() not in pids  # in worker processes
