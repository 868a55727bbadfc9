"""Hostile or damaged inputs: each must end in one clear line (or the right fallback), never in code
execution, a traceback or a silently wrong result."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys

import pytest
import torch

from maskbench.config import load_config
from maskbench.errors import MaskbenchError
from maskbench.train.pretrain import run_pretrain


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file (what an attacker would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (subprocess.call, (["touch", self.marker],))


def test_resuming_a_checkpoint_with_a_pickle_payload_runs_nothing(tiny_overrides, tmp_path):
    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    # A shared run folder, tampered with: the final checkpoint removed, the step-10 trainer.pt replaced.
    shutil.rmtree(run / "checkpoints" / "final")
    (run / "summary.json").unlink()
    marker = tmp_path / "pwned"
    trainer = run / "checkpoints" / "step-000010" / "trainer.pt"
    with open(trainer, "wb") as fh:
        pickle.dump({"rng_cpu": _Payload(marker)}, fh)
    # A crafted folder carries a matching checksum too (checksums catch accidents, not attackers).
    import hashlib
    import json

    state = json.loads((trainer.parent / "state.json").read_text())
    state["files"]["trainer.pt"] = hashlib.sha256(trainer.read_bytes()).hexdigest()
    (trainer.parent / "state.json").write_text(json.dumps(state))
    proc = subprocess.run([sys.executable, "-m", "maskbench", "pretrain", *tiny_overrides, f"run.dir={run}",
                           "train.resume=true"], capture_output=True, text=True, timeout=300)
    assert not marker.exists(), "the pickle payload was executed"
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "trainer.pt" in proc.stderr and "refused" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_todays_trainer_state_loads_under_weights_only(tiny_overrides, tmp_path):
    """The safe loader still reads what maskbench writes (optimizer state, RNG states)."""
    from maskbench.runs.checkpoint import load_trainer

    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    state = load_trainer(run / "checkpoints" / "step-000010", None)
    assert state.step == 10 and state.tokens_seen > 0


def test_payload_class_really_executes_when_unpickled_unsafely(tmp_path):
    """Guard that the payload above is live: plain pickle.load does run it (so the test above can fail)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


# ------------------------------------------------------------------ one writer per run folder / cache entry
def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "maskbench", *args], capture_output=True, text=True, timeout=timeout)


def test_two_runs_on_one_folder_one_refuses(tiny_overrides, tmp_path):
    import json
    import signal
    import time

    run = tmp_path / "shared"
    first = subprocess.Popen([sys.executable, "-m", "maskbench", "pretrain", *tiny_overrides, f"run.dir={run}",
                              "train.max_steps=100000", "train.log_every=1"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.1)
    second = _cli("pretrain", *tiny_overrides, f"run.dir={run}", "train.max_steps=100000", "seed=5",
                  "train.resume=true")
    first.send_signal(signal.SIGTERM)  # the first stops cleanly (checkpoint, exit 2)
    _, err = first.communicate(timeout=120)
    assert "interrupted at step" in err
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "in use by process" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    events = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    keys = [(e["step"], e["split"]) for e in events]
    assert len(keys) == len(set(keys)) and len(keys) > 5  # every event once, all from the first run
    assert "seed: 0" in (run / "config.yaml").read_text()


def test_two_cache_builds_at_once_both_get_the_cache(tiny_overrides, corpus_file, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(corpus_file.read_text() * 20)
    cache = tmp_path / "cache"
    code = ("from maskbench.config import load_config; from maskbench.data.cache import build_cache; "
            f"print(build_cache(load_config(['data.paths=[{big}]', 'data.cache_dir={cache}', "
            "'data.vocab_size=400']).data))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert outs[0][0] == outs[1][0]
    built = [p for p in (cache / "tokens").iterdir() if p.is_dir() and p.name not in ("shards", "tokenizers")]
    assert len(built) == 1 and (built[0] / "meta.json").exists()
    assert len(list((cache / "tokens" / "shards").iterdir())) == 1  # the file was encoded once


# ------------------------------------------------------------------ damaged files
def _full_and_cut(tiny_overrides, tmp_path):
    """An uninterrupted run and a copy that 'died' after step 15 (checkpoints 5, 10, 15 kept)."""
    extra = ["train.ckpt_every=5", "train.keep_checkpoints=3", "train.eval_every=5"]
    full = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'full'}", *extra]))
    cut = tmp_path / "cut"
    shutil.copytree(full, cut)
    shutil.rmtree(cut / "checkpoints" / "final")
    (cut / "summary.json").unlink()
    return full, cut, extra


def _losses(run):
    from maskbench.runs.rundir import read_metrics

    return [(e["step"], e["split"], e["loss"]) for e in read_metrics(run)]


@pytest.mark.parametrize("damage", ["truncate_weights", "delete_trainer", "garble_state"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tiny_overrides, tmp_path, damage, capsys):
    from rich.console import Console

    full, cut, extra = _full_and_cut(tiny_overrides, tmp_path)
    newest = cut / "checkpoints" / "step-000015"
    if damage == "truncate_weights":
        data = (newest / "model.safetensors").read_bytes()
        (newest / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "delete_trainer":
        (newest / "trainer.pt").unlink()
    else:
        (newest / "state.json").write_text("{not json")
    from maskbench.train.pretrain import run_pretrain as again

    again(load_config(tiny_overrides + [f"run.dir={cut}", *extra, "train.resume=true"]),
          console=Console(file=sys.stdout, width=200))
    out = capsys.readouterr().out
    assert "step-000015 is damaged" in out and "resuming cut from step-000010" in out
    assert _losses(cut) == _losses(full)  # ends exactly where the uninterrupted run ended


def test_leftovers_and_a_torn_metrics_line_are_repaired(tiny_overrides, tmp_path):
    from maskbench.runs.rundir import read_metrics

    full, cut, extra = _full_and_cut(tiny_overrides, tmp_path)
    (cut / "checkpoints" / "step-000020.tmp12345").mkdir()
    (cut / "checkpoints" / "final.old").mkdir()
    with open(cut / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 16, "split": "tr')  # a kill in the middle of a write
    assert read_metrics(cut)[-1]["step"] <= 20  # readers skip the torn line
    run_pretrain(load_config(tiny_overrides + [f"run.dir={cut}", *extra, "train.resume=true"]))
    assert not any(".tmp" in p.name or p.name.endswith(".old") for p in (cut / "checkpoints").iterdir())
    assert _losses(cut) == _losses(full)


def test_final_without_summary_is_repaired(tiny_overrides, tmp_path):
    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}"]))
    (run / "summary.json").unlink()
    run_pretrain(load_config(tiny_overrides + [f"run.dir={run}", "train.resume=true"]))
    assert (run / "summary.json").exists()


# ------------------------------------------------------------------ inputs checked before any work
@pytest.mark.parametrize("over, needle", [
    (["task=qa", "task.doc_stride=0"], "task.doc_stride=0 must be an integer >= 1"),
    (["task=qa", "task.doc_stride=-4"], "task.doc_stride=-4"),
    (["task=qa", "task.doc_stride=256"], "must be below task.max_len"),
    (["task.max_eval_examples=-1"], "task.max_eval_examples=-1"),
    (["data.val_blocks=0"], "data.val_blocks=0"),
    (["data.val_fraction=1"], "leaves nothing to train on"),
])
def test_bad_ranges_are_one_line(over, needle):
    from maskbench.errors import MaskbenchError

    with pytest.raises(MaskbenchError, match=needle.replace("[", r"\[").replace(".", r"\.")):
        load_config(over, root="finetune")


def test_squad_offsets_must_point_at_the_answer(tmp_path):
    import json

    from maskbench.tasks.qa import read_squad
    from maskbench.errors import MaskbenchError

    ctx = "A natural history of the river itself."
    bad = {"data": [{"paragraphs": [{"context": ctx, "qas": [
        {"id": "q-7", "question": "What?", "answers": [{"text": "itself", "answer_start": 0}]}]}]}]}
    (tmp_path / "s.json").write_text(json.dumps(bad))
    with pytest.raises(MaskbenchError, match="question q-7: answer_start 0 does not point at its answer 'itself' "
                                             r"\(the text occurs at 31\)"):
        read_squad(tmp_path / "s.json")


def test_cli_edges_are_one_line(tiny_overrides, tmp_path):
    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'r'}", "train.max_steps=2"]))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    cases = [
        ("fill", str(run), "a [MASK] b", "--beam", "0"),
        ("fill", str(run), "a [MASK] b", "--top-k", "0"),
        ("fill", str(run), " ".join(["word"] * 600) + " [MASK]"),
        ("probe", str(run), "--file", str(tmp_path / "missing.txt")),
        ("pretrain", *tiny_overrides, f"run.dir={blocker / 'sub'}"),
        ("compare", f"init={run}"),
    ]
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00\x01")
    cases.append(("probe", str(run), "--file", str(tmp_path / "binary.txt")))
    cases.append(("report", str(run), "-o", str(blocker / "report")))  # unwritable output folders
    cases.append(("plot", str(run), "-o", str(blocker / "loss.png")))
    for args in cases:
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
    huge = _cli("fill", str(run), "a [MASK] b", "--top-k", "100000", "--json")  # more than the vocabulary: all of it
    import json

    assert huge.returncode == 0 and len(json.loads(huge.stdout)["blanks"][0]) > 100


# ------------------------------------------------------------------ the token cache checks itself
@pytest.mark.parametrize("damage", ["truncate_bin", "flip_id", "drop_meta", "shrink_meta", "dtype_meta"])
def test_a_damaged_token_cache_is_rebuilt(tiny_overrides, tmp_path, damage):
    import json

    import numpy as np

    from maskbench.data.cache import build_cache, cache_problem

    over = [o for o in tiny_overrides if not o.startswith("data.cache_dir")] + [f"data.cache_dir={tmp_path}"]
    # A fixed tokenizer: WordPiece training breaks ties in hash order, so a retrained one could differ.
    tok = tmp_path / "tokenizer.json"
    tok.write_text((build_cache(load_config(over).data) / "tokenizer.json").read_text())
    d = load_config(over + [f"data.tokenizer_file={tok}"]).data
    folder = build_cache(d)
    good = (folder / "train.tokens.bin").read_bytes()
    meta = json.loads((folder / "meta.json").read_text())
    if damage == "truncate_bin":
        (folder / "train.tokens.bin").write_bytes(good[:100])
    elif damage == "flip_id":
        ids = np.frombuffer(good, dtype=np.uint16).copy()
        ids[5] = 60000  # an id out of the vocabulary
        (folder / "train.tokens.bin").write_bytes(ids.tobytes())
    elif damage == "drop_meta":
        (folder / "meta.json").unlink()
    elif damage == "shrink_meta":
        (folder / "meta.json").write_text(json.dumps({**meta, "train_tokens": meta["train_tokens"] - 10}))
    else:
        (folder / "meta.json").write_text(json.dumps({**meta, "dtype": "float32"}))
    assert cache_problem(folder) is not None
    again = build_cache(d)
    assert again == folder and cache_problem(folder) is None
    assert (folder / "train.tokens.bin").read_bytes() == good


def test_an_edited_corpus_of_the_same_size_and_time_gets_a_new_cache(tmp_path, corpus_file):
    import os

    from maskbench.data.cache import build_cache

    text = tmp_path / "c.txt"
    text.write_text(corpus_file.read_text())
    over = [f"data.paths=[{text}]", f"data.cache_dir={tmp_path / 'cache'}", "data.vocab_size=400", "data.seq_len=32"]
    first = build_cache(load_config(over).data)
    st = text.stat()
    body = text.read_text()
    text.write_text(body.replace("river", "rivER", 1))  # same size
    os.utime(text, ns=(st.st_atime_ns, st.st_mtime_ns))  # same time
    assert build_cache(load_config(over).data) != first


def test_killed_before_the_first_checkpoint_logs_step_0_once(tiny_overrides, tmp_path):
    import json

    run = tmp_path / "r"
    run_pretrain(load_config(tiny_overrides + [f"run.dir={run}"]))
    shutil.rmtree(run / "checkpoints")
    (run / "summary.json").unlink()
    run_pretrain(load_config(tiny_overrides + [f"run.dir={run}", "train.resume=true"]))
    events = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(e["step"], e["split"]) for e in events].count((0, "val")) == 1


def test_report_skips_foreign_summaries(tiny_overrides, tmp_path):
    from maskbench.report.tables import write_report

    run = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'runs' / 'r'}", "train.max_steps=2"]))
    (tmp_path / "runs" / "other").mkdir()
    (tmp_path / "runs" / "other" / "summary.json").write_text('{"accuracy": 3}')
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "summary.json").write_text('{"kind": "pretr')
    from rich.console import Console

    console = Console(file=sys.stdout, width=300)
    write_report([tmp_path / "runs"], tmp_path / "report", console)
    assert (tmp_path / "report" / "report.md").exists() and run.exists()


def test_sweep_checks_its_tasks_before_pretraining(tiny_overrides, tmp_path):
    from maskbench.errors import MaskbenchError
    from maskbench.train.sweep import run_sweep

    with pytest.raises(MaskbenchError, match="nosuchtask"):
        run_sweep(tiny_overrides + [f"sweep.dir={tmp_path / 's'}", "sweep.tasks=[nosuchtask]"])
    assert not (tmp_path / "s" / "pretrain").exists()


def test_adding_tasks_to_a_finished_sweep_reuses_its_pretraining(tiny_overrides, tmp_path, task_files_for_sweep):
    from maskbench.train.sweep import run_sweep

    base = tiny_overrides + [f"sweep.dir={tmp_path / 's'}", "train.max_steps=4"]
    run_sweep(base)
    runs = sorted(p.name for p in (tmp_path / "s" / "pretrain").iterdir())
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "pretrain").rglob("summary.json")}
    run_sweep(base + ["sweep.tasks=[sst2]", "sweep.scratch=false"]
              + task_files_for_sweep)
    assert sorted(p.name for p in (tmp_path / "s" / "pretrain").iterdir()) == runs  # no second pretraining
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "pretrain").rglob("summary.json")} == stamp
    assert list((tmp_path / "s" / "finetune" / "sst2").iterdir())


def test_sweep_finetunes_every_pretraining_once_per_finetune_seed(tiny_overrides, tmp_path, task_files_for_sweep):
    from maskbench.report.tables import find_summaries, finetune_rows
    from maskbench.train.sweep import run_sweep

    root = run_sweep(tiny_overrides + [f"sweep.dir={tmp_path / 's'}", "train.max_steps=4", "sweep.tasks=[sst2]",
                                       "sweep.finetune_seeds=[3,4]", "sweep.task_overrides={sst2:['train.max_steps=3']}"]
                     + task_files_for_sweep)
    [pre] = [p.name for p in (root / "pretrain").iterdir()]
    folders = sorted(p.name for p in (root / "finetune" / "sst2").iterdir())
    assert folders == sorted([f"{pre}-f3", f"{pre}-f4", "scratch-encoder-tiny-s0-f3", "scratch-encoder-tiny-s0-f4"])
    seeds = {p.name: json.loads((p / "summary.json").read_text())["seed"] for p in (root / "finetune" / "sst2").iterdir()}
    assert seeds[f"{pre}-f3"] == seeds["scratch-encoder-tiny-s0-f3"] == 3 and seeds[f"{pre}-f4"] == 4
    # the task's own overrides win over sweep.finetune (max_steps=2 there)
    assert json.loads((root / "finetune" / "sst2" / f"{pre}-f3" / "summary.json").read_text())["steps"] == 3
    rows = {r["objective"]: r for r in finetune_rows(find_summaries([root]))}
    assert rows["scratch"]["seeds"] == 2 and rows["bert_mlm"]["seeds"] == 2 and rows["bert_mlm"]["vs_scratch"]["seeds"] == 2
    with pytest.raises(MaskbenchError, match="sweep.finetune_seeds"):
        load_config(["sweep.finetune_seeds=[1,1]"])
    with pytest.raises(MaskbenchError, match="sweep.task_overrides names pos"):
        load_config(["sweep.tasks=[sst2]", "sweep.task_overrides={pos:['train.lr=1']}"])


@pytest.fixture
def task_files_for_sweep(tmp_path):
    sst = tmp_path / "sst.tsv"
    sst.write_text("sentence\tlabel\n" + "".join(f"the river film {i}\t{i % 2}\n" for i in range(20)))
    return [f"sweep.finetune=['train.max_steps=2','task.train_file={sst}','task.eval_file={sst}']"]


@pytest.mark.parametrize("over", ["train.lr=fast", "train.weight_decay=abc", "train.warmup_steps=abc",
                                  "train.grad_clip=big", "data.lowercase=maybe", "runtime.device=tpu",
                                  "train.betas=[0.9]", "model.norm=sideways", "model.ln_eps=0",
                                  "run.loggers=tensorboard"])
def test_wrong_types_and_values_are_one_line(over):
    proc = _cli("config", "show", over, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and over.split("=")[0] in proc.stderr


WRONG_VALUES = [  # (root config, override): a wrong type or value in every group
    ("pretrain", "train.lr=fast"), ("pretrain", "train.weight_decay=abc"), ("pretrain", "train.warmup_steps=abc"),
    ("pretrain", "train.grad_clip=big"), ("pretrain", "train.max_steps=-5"), ("pretrain", "train.schedule=sine"),
    ("pretrain", "train.keep_checkpoints=-1"), ("pretrain", "train.betas=[2,0.9]"), ("pretrain", "seed=abc"),
    ("pretrain", "data.lowercase=maybe"), ("pretrain", "data.seq_len=4"), ("pretrain", "data.val_fraction=1.5"),
    ("pretrain", "data.n_sentinels=-1"), ("pretrain", "data.tokenizer_sample_mb=0"),
    ("pretrain", "corruption.whole_word=perhaps"), ("pretrain", "corruption.mask_prob=1.5"),
    ("pretrain", "runtime.device=tpu"), ("pretrain", "runtime.precision=fp8"), ("pretrain", "runtime.threads=-1"),
    ("pretrain", "model.d_model=abc"), ("pretrain", "model.dropout=2"), ("pretrain", "model.activation=relu6"),
    ("pretrain", "run.loggers=[csv]"), ("pretrain", "sweep.jobs=0"), ("finetune", "task.max_len=3"),
    ("finetune", "task.freeze=sometimes"), ("finetune", "task.metric=bleu"), ("finetune", "task.train_size=0"),
    ("finetune", "compare.seeds=3"), ("finetune", "compare.train_sizes=[0]"), ("finetune", "train.subset_min_steps=0"),
]
UNKNOWN_KEYS = [  # (root, override, the suggestion expected in the message or None)
    ("pretrain", "train.max_step=10", "train.max_steps"), ("pretrain", "model.dmodel=64", "model.d_model"),
    ("pretrain", "data.seqlen=64", "data.seq_len"), ("pretrain", "corruption.mask_probability=0.2", "corruption.mask_prob"),
    ("pretrain", "runtime.devices=cpu", "runtime.device"), ("finetune", "task.maxlen=64", "task.max_len"),
    ("finetune", "compare.seed=[1]", "compare.seeds"), ("pretrain", "run.dirr=x", "run.dir"), ("pretrain", "sead=1", "seed"),
    ("pretrain", "train.lrate=1", None), ("pretrain", "corruption=bert_mlmm", "bert_mlm"),
]


@pytest.mark.parametrize("root, over", WRONG_VALUES)
def test_every_wrong_value_is_one_line_naming_the_key(root, over):
    with pytest.raises(MaskbenchError) as err:
        load_config([over], root=root)
    msg = str(err.value)
    key, _, value = over.partition("=")
    assert "\n" not in msg and f"{key}=" in msg
    assert value.strip("[]").split(",")[0] in msg  # the value given, so the user sees what was refused


@pytest.mark.parametrize("root, over, suggestion", UNKNOWN_KEYS)
def test_every_unknown_key_is_one_line_with_the_nearest_key(root, over, suggestion):
    with pytest.raises(MaskbenchError) as err:
        load_config([over], root=root)
    msg = str(err.value)
    assert "\n" not in msg and over.split("=")[0].split(".")[-1] in msg
    if suggestion:
        assert suggestion in msg


@pytest.fixture(scope="module")
def tiny_run(tiny_overrides, tmp_path_factory):
    return run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path_factory.mktemp('exp') / 'r'}"]))


def test_export_never_touches_a_users_folder_beside_the_target(tiny_run, tmp_path):
    pytest.importorskip("transformers")
    from maskbench.export.model import export_model

    mine = tmp_path / "mine.tmp-export"  # the name the old export removed
    mine.mkdir()
    (mine / "important.txt").write_text("keep me")
    out = export_model(tiny_run, tmp_path / "mine")
    assert (mine / "important.txt").read_text() == "keep me"
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "mine.tmp-export"]  # no leftovers of ours


def test_export_to_a_target_filled_meanwhile_is_refused_and_leaves_it_alone(tiny_run, tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from maskbench.export import model as export_module

    out = tmp_path / "hf"
    real_write = export_module._write_folder

    def write_then_race(*args):  # another export finishes first, while this one writes
        real_write(*args)
        out.mkdir()
        (out / "theirs.txt").write_text("first export")

    monkeypatch.setattr(export_module, "_write_folder", write_then_race)
    with pytest.raises(MaskbenchError, match="filled by another export"):
        export_module.export_model(tiny_run, out)
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]  # this export's private folder is gone


def test_export_into_an_existing_empty_folder_and_onto_a_file(tiny_run, tmp_path):
    pytest.importorskip("transformers")
    from maskbench.export.model import export_model

    (tmp_path / "empty").mkdir()
    assert (export_model(tiny_run, tmp_path / "empty") / "model.safetensors").is_file()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(MaskbenchError, match="is a file"):
        export_model(tiny_run, tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("option", ["compare.seeds=[0,0]", "compare.train_sizes=[100,100]",
                                    "compare.train_sizes=[all,all]", "compare.checkpoints=[5,5]",
                                    "compare.tasks=[pos,pos]"])
def test_a_run_listed_twice_is_refused_not_counted_twice(option):
    with pytest.raises(MaskbenchError, match="repeats") as err:
        load_config(["task=sst2", option], root="finetune")
    assert "\n" not in str(err.value) and option.split("=")[1] in str(err.value)


def test_a_misspelt_preset_is_an_error_with_the_nearest_name_not_the_defaults():
    with pytest.raises(MaskbenchError, match="did you mean experiment=debug") as err:
        load_config(["experiment=debugg"])
    assert "\n" not in str(err.value)
    with pytest.raises(MaskbenchError, match="did you mean task=sst2"):
        load_config(["task=sst"], root="finetune")


def test_a_missing_config_dir_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("MASKBENCH_CONFIG_DIR", str(tmp_path / "nope"))
    with pytest.raises(MaskbenchError, match="--config-dir .* is not a folder"):
        load_config(["experiment=debug"])
    proc = subprocess.run([sys.executable, "-m", "maskbench", "--config-dir", str(tmp_path / "nope"), "config", "show"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "is not a folder" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_plot_reports_the_file_it_wrote(tiny_run, tmp_path):
    from maskbench.report.plots import plot_runs

    folder = tmp_path / "figs"
    folder.mkdir()
    assert plot_runs([tiny_run], folder) == folder / "loss.png" and (folder / "loss.png").is_file()
    assert plot_runs([tiny_run], tmp_path / "curve") == tmp_path / "curve.png" and (tmp_path / "curve.png").is_file()


def test_fill_json_never_prints_nan(tiny_run, monkeypatch, capsys):
    from maskbench.inspect import fill

    monkeypatch.setattr(fill, "fill_encoder", lambda m, text, k: [[("a", 7, float("nan")), ("b", 8, 0.5)]])
    fill.run_fill(tiny_run, "the [MASK] .", 2, 1, console=None, as_json=True)
    out = json.loads(capsys.readouterr().out)
    assert out["blanks"][0][0]["prob"] is None and out["blanks"][0][1]["prob"] == 0.5


def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_run_resumes_exactly(tiny_overrides, tmp_path, monkeypatch):
    import errno

    import safetensors.torch as st

    full = run_pretrain(load_config(tiny_overrides + [f"run.dir={tmp_path / 'full'}"]))
    real_save = st.save_file

    def no_space_for_final(tensors, path):
        if "final" in str(path):
            real_save(tensors, path + ".partial")  # something half-written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(tensors, path)

    monkeypatch.setattr(st, "save_file", no_space_for_final)
    run = tmp_path / "cut"
    with pytest.raises(MaskbenchError, match="the disk is full: checkpoint final") as err:
        run_pretrain(load_config(tiny_overrides + [f"run.dir={run}"]))
    assert "train.resume=true" in str(err.value) and "\n" not in str(err.value)
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step-000010"]  # the earlier checkpoint intact, nothing torn left beside it
    monkeypatch.setattr(st, "save_file", real_save)
    run_pretrain(load_config(tiny_overrides + [f"run.dir={run}", "train.resume=true"]))
    from maskbench.runs.rundir import read_metrics

    assert [(e["step"], e["loss"]) for e in read_metrics(run)] == [(e["step"], e["loss"]) for e in read_metrics(full)]


def test_a_transformers_folder_without_tokenizer_files_is_refused(corpus_file, tmp_path):
    pytest.importorskip("transformers")
    from hf_models import bert_folder

    from maskbench.runs.source import resolve_source

    folder = bert_folder(corpus_file, tmp_path / "bert")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(MaskbenchError, match="has no tokenizer files") as err:
        resolve_source(folder, tmp_path / "cache")
    assert "\n" not in str(err.value)


def test_a_tokenizer_larger_than_the_embedding_is_refused(corpus_file, tmp_path):
    transformers = pytest.importorskip("transformers")
    from hf_models import bert_folder

    from maskbench.runs.source import resolve_source

    folder = bert_folder(corpus_file, tmp_path / "bert")
    model = transformers.BertForMaskedLM.from_pretrained(str(folder))
    model.resize_token_embeddings(model.config.vocab_size - 50)  # the tokenizer now has 50 ids past the embedding
    model.save_pretrained(str(folder))
    with pytest.raises(MaskbenchError, match="ids but the model's embedding only"):
        resolve_source(folder, tmp_path / "cache")


def test_foreign_models_that_maskbench_cannot_hold_exactly_are_refused(corpus_file, tmp_path):
    transformers = pytest.importorskip("transformers")
    from hf_models import bert_folder

    from maskbench.inspect.loading import load_checkpoint
    from maskbench.export.model import export_model
    from maskbench.runs.source import resolve_source

    folder = bert_folder(corpus_file, tmp_path / "bert")
    # A bare BertModel: no MLM head. fill and export refuse rather than use a random head as if trained.
    bare = tmp_path / "bare"
    transformers.BertModel.from_pretrained(str(folder)).save_pretrained(str(bare))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (folder / name).exists():
            (bare / name).write_bytes((folder / name).read_bytes())
    with pytest.raises(MaskbenchError, match="no trained MLM head"):
        load_checkpoint(bare, what="fill")
    with pytest.raises(MaskbenchError, match="no trained MLM head"):
        export_model(bare, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # An untied output layer: maskbench ties them, so it refuses instead of dropping the decoder.
    untied = tmp_path / "untied"
    cfg = transformers.BertConfig.from_pretrained(str(folder), tie_word_embeddings=False)
    m = transformers.BertForMaskedLM.from_pretrained(str(folder), config=cfg)
    with torch.no_grad():
        m.cls.predictions.decoder.weight.add_(1.0)
    m.save_pretrained(str(untied))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if (folder / name).exists():
            (untied / name).write_bytes((folder / name).read_bytes())
    with pytest.raises(MaskbenchError, match="not tied to its input embedding"):
        load_checkpoint(untied)
    # A causal decoder configuration.
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "is_decoder": True}))
    with pytest.raises(MaskbenchError, match="is_decoder=true"):
        resolve_source(folder, tmp_path / "cache")


def test_an_unreachable_tracking_server_is_one_line_within_seconds(tiny_overrides, monkeypatch):
    import time

    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # the discard port: nothing listens
    start = time.time()
    with pytest.raises(MaskbenchError, match="MLFLOW_TRACKING_URI=http://127.0.0.1:9 cannot be reached"):
        load_config(tiny_overrides + ["run.loggers=[jsonl,mlflow]"])
    assert time.time() - start < 10


def _hub_dict(folder):
    datasets = pytest.importorskip("datasets")
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"sentence": ["good film", "bad film"] * 10, "label": [1, 0] * 10}),
        "validation": datasets.Dataset.from_dict({"sentence": [], "label": []}),
    }).save_to_disk(str(folder))
    return folder


@pytest.mark.parametrize("spec, needle", [
    ("hf:{d}@validation", "the split has no rows"),
    ("hf:{d}@", "the split after '@' is empty: write hf:{d}@train"),
])
def test_hub_split_messages(tmp_path, spec, needle):
    from maskbench.data.hub import task_dataset

    d = _hub_dict(tmp_path / "ds")
    with pytest.raises(MaskbenchError) as err:
        task_dataset(spec.format(d=d))
    assert needle.format(d=d) in str(err.value)


def test_a_dataset_folder_named_with_at_is_the_folder(tmp_path):
    from maskbench.data.hub import parse

    folder = tmp_path / "v1@2024"
    folder.mkdir()
    ref = parse(f"hf:{folder}")
    assert ref.name == str(folder) and ref.split is None and ref.is_local


def test_reader_errors_name_the_users_file_not_the_cache(tiny_overrides, tmp_path):
    from maskbench.data.tokenizer import Vocab
    from maskbench.tasks.loading import load_task

    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "ds"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"sentence": ["a", "b"], "label": ["x", "y"]}),
                          "test": datasets.Dataset.from_dict({"sentence": ["a"], "label": ["z"]})}
                         ).save_to_disk(str(folder))
    cfg = load_config([o for o in tiny_overrides if not o.startswith("experiment=")] +
                      [f"task.train_file=hf:{folder}@train", f"task.eval_file=hf:{folder}@test"], root="finetune")
    from maskbench.data.cache import build_cache, load_cache_tokenizer

    tok = load_cache_tokenizer(build_cache(cfg.data))
    with pytest.raises(MaskbenchError) as err:
        load_task(cfg.task, tok, Vocab.from_tokenizer(tok), "encoder", cfg.data.cache_dir)
    assert f"hf:{folder}@test" in str(err.value) and "label 'z'" in str(err.value) and "/hub/" not in str(err.value)
    cfg = load_config([o for o in tiny_overrides if not o.startswith("experiment=")] +
                      [f"task.train_file=hf:{folder}@train", f"task.eval_file=hf:{folder}@train",
                       f"task.extra_eval=[{tmp_path / 'missing.tsv'}]"], root="finetune")
    with pytest.raises(MaskbenchError, match=r"task.extra_eval \(missing\): .*missing.tsv does not exist: fix "
                                             r"task.extra_eval"):
        load_task(cfg.task, tok, Vocab.from_tokenizer(tok), "encoder", cfg.data.cache_dir)


@pytest.mark.parametrize("over, needle", [
    (["train." + "k" * 3000 + "=1"], "(3,006 characters)"),
    (["run.name=" + "k" * 3000], "at most 200 characters"),
])
def test_absurd_keys_and_names_are_one_line(tiny_overrides, over, needle):
    with pytest.raises(MaskbenchError) as err:
        load_config(tiny_overrides + over)
    assert needle in str(err.value) and len(str(err.value)) < 300


def test_init_with_an_objective_of_the_other_architecture_names_the_ones_that_fit(tiny_overrides, corpus_file,
                                                                                   tmp_path):
    from hf_models import bert_folder

    folder = bert_folder(corpus_file, tmp_path / "bert")
    cfg = load_config(tiny_overrides + [f"init={folder}", "corruption=t5_span", "arch=encoder_decoder"])
    with pytest.raises(MaskbenchError, match="is an encoder model, and corruption=t5_span needs encoder_decoder: "
                                             "choose one of bert_mlm, bert_mlm_40, bert_mlm_nsp, electra, gpt_bert, span_mlm"):
        run_pretrain(cfg)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 3 MB tmpfs (needs root and mount; skipped elsewhere)."""
    import os

    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_really_full_disk_is_one_line_and_the_moved_run_resumes_exactly(tiny_overrides, tmp_path, tiny_tmpfs):
    """torch reports a full disk as "unexpected pos" or "iostream error", without the cause."""
    from maskbench.runs.rundir import read_metrics

    over = tiny_overrides + ["train.max_steps=40", "train.ckpt_every=10", "train.keep_checkpoints=2", "model.d_model=64",
                             "model.d_ff=256"]  # about 1.2 MB a checkpoint: the third does not fit
    res = subprocess.run([sys.executable, "-m", "maskbench", "pretrain", *over, f"run.dir={tiny_tmpfs / 'run'}"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "error: the disk is full: checkpoint step-" in res.stderr, res.stderr[-1500:]
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 2
    moved = tmp_path / "moved"
    shutil.copytree(tiny_tmpfs / "run", moved)
    run_pretrain(load_config(over + [f"run.dir={moved}", "train.resume=true"]))
    straight = run_pretrain(load_config(over + [f"run.dir={tmp_path / 'straight'}"]))
    assert [(e["step"], e["loss"]) for e in read_metrics(moved)] == \
        [(e["step"], e["loss"]) for e in read_metrics(straight)]


def test_export_of_a_transformers_folder_is_checked_against_the_folders_own_outputs(corpus_file, tmp_path):
    """Not only against maskbench's copy: a model maskbench held wrongly would pass its own comparison."""
    transformers = pytest.importorskip("transformers")
    from hf_models import bert_folder

    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.export.model import export_model, source_difference

    folder = bert_folder(corpus_file, tmp_path / "bert")
    out = export_model(folder, tmp_path / "out")
    exported = transformers.BertForPreTraining.from_pretrained(str(out)).eval()
    vocab = Vocab.from_tokenizer(load_tokenizer(out / "tokenizer.json"))
    assert source_difference(folder, exported, vocab, "encoder", transformers) < 1e-5
    other = bert_folder(corpus_file, tmp_path / "other", layers=1)  # another model: the check must see it
    assert source_difference(other, exported, vocab, "encoder", transformers) > 1e-2


@pytest.mark.parametrize("damage, needle", [
    ("truncated_json", "is not a JSON object with a model_type"),
    ("heads", "attention heads for width"),
])
def test_malformed_transformers_folders_are_one_line(corpus_file, tmp_path, damage, needle):
    from hf_models import bert_folder

    from maskbench.runs.source import resolve_source

    folder = bert_folder(corpus_file, tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    if damage == "truncated_json":
        (folder / "config.json").write_text('{"model_type": "bert", ')
    else:
        config["num_attention_heads"] = 3
        (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(MaskbenchError, match=needle):
        resolve_source(folder)


@pytest.mark.parametrize("over, needle", [
    ("compare.baselines={scratch:['experiment=debug']}", "the names pretrained and scratch are taken"),
    ("task.extra_eval=[{name: zh}]", "task.extra_eval item"),
])
def test_compare_and_extra_eval_mistakes_are_found_before_any_work(tiny_overrides, over, needle):
    with pytest.raises(MaskbenchError, match=needle):
        load_config([o for o in tiny_overrides if not o.startswith("experiment=")] + [over], root="finetune")


def test_a_transformers_load_failure_is_one_line_even_without_a_message(tmp_path):
    """hf_load: an exception with no text names its type; '{why}' is filled in; braces in a path stay as they are."""
    from maskbench.errors import MaskbenchError
    from maskbench.interop import hf_load

    def fails(exc):
        def load(path):
            raise exc
        return load

    with pytest.raises(MaskbenchError) as e:
        hf_load(fails(ValueError()), tmp_path / "odd{name}", "the folder could not be read")
    assert str(e.value) == "the folder could not be read (ValueError)"
    with pytest.raises(MaskbenchError) as e:
        hf_load(fails(OSError("first line\nsecond line")), tmp_path / "a{b}", f"{tmp_path / 'a{b}'} has no tokenizer ({{why}}): save one")
    assert str(e.value) == f"{tmp_path / 'a{b}'} has no tokenizer (first line): save one" and "\n" not in str(e.value)
    assert hf_load(lambda path: path, tmp_path / "ok", "unused") == str(tmp_path / "ok")


@pytest.mark.parametrize("body, overrides, needle", [
    ("data: null", [], "config group 'data' is None, not a set of options"),
    ("model: 5", [], "config group 'model' is 5, not a set of options"),
    ("seed: 1", ["~corruption"], "the config has no corruption: choose one with corruption=NAME"),
    ("seed: 1", ["+compare.seeds=[1]"], "unknown config option 'compare'")])
def test_a_group_that_is_not_a_group_is_one_line(tmp_path, monkeypatch, body, overrides, needle):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "odd.yaml").write_text(f"# @package _global_\n{body}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MaskbenchError) as err:
        load_config(["experiment=odd", *overrides])
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_reader_that_stops_early_gets_no_error_line():
    """`maskbench ... | head`: the closed pipe ends the command quietly (exit 141, as git), not with an error."""
    body = ("import sys, typer\nfrom maskbench.cli import _guard\n"
            "def body():\n    for i in range(200000):\n        print('line', i)\n"
            "try:\n    _guard(body)\nexcept typer.Exit as e:\n    sys.exit(e.exit_code)\n")
    p = subprocess.Popen([sys.executable, "-c", body], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"line 0\n"
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and err == "", err


@pytest.mark.parametrize("baseline, needle", [
    ("{other: ['experiment=debug', 'model.d_modl=8']}", "compare.baselines.other=.*model.d_modl"),
    ("{other: /no/such/run}", "compare.baselines.other=/no/such/run does not exist")])
def test_a_bad_baseline_is_refused_before_any_pretraining(tiny_overrides, tmp_path, baseline, needle):
    from maskbench.train.compare import run_compare

    pretrain = "[" + ",".join(f"'{o}'" for o in tiny_overrides + [f"run.root={tmp_path / 'pre'}"]) + "]"
    cfg = load_config([f"compare.pretrain={pretrain}", f"compare.baselines={baseline}",
                       f"run.dir={tmp_path / 'cmp'}"], root="finetune")
    with pytest.raises(MaskbenchError, match=needle):
        run_compare(cfg)
    assert not (tmp_path / "pre").exists() and not (tmp_path / "cmp").exists()  # nothing trained or written


@pytest.mark.parametrize("over, root, key", [
    (["task=sst2", "~task.train_file"], "finetune", "task.train_file"),
    (["task=pos", "~task.eval_file"], "finetune", "task.eval_file"),
    (["task=sst2", "task.train_file=???"], "finetune", "task.train_file"),
])
def test_a_required_key_removed_or_left_missing_is_one_line(over, root, key):
    """Any required key (a schema field with no default) removed with ~KEY or set to ??? names itself and the fix,
    whichever group and key it is: the check sits where every composed group becomes its typed object."""
    escaped = re.escape(key)
    with pytest.raises(MaskbenchError, match=rf"{escaped} has no value.*give it one with {escaped}=VALUE"):
        load_config(over, root=root)


def test_a_removed_required_key_is_one_line_through_the_cli():
    r = _cli("config", "show", "task=sst2", "~task.train_file", timeout=120)
    lines = [ln for ln in r.stderr.splitlines() + r.stdout.splitlines() if ln.strip()]
    assert r.returncode != 0 and r.returncode != 70, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert any("task.train_file has no value" in ln for ln in lines), lines


@pytest.mark.parametrize("over, root, needle", [
    (["sweep.finetune_seeds={}"], "pretrain", "sweep.finetune_seeds={} must be a list"),
    (["model.n_layers={}"], "pretrain", "model.n_layers={} must be an integer"),
    (["train.lr=[1]"], "pretrain", "train.lr=[1] must be a number"),
])
def test_a_mapping_or_list_in_the_wrong_place_is_one_line_naming_its_key(over, root, needle):
    """OmegaConf's merge says only 'Cannot merge DictConfig with ListConfig': the key is found by comparing the
    override with the schema, for any group and key."""
    with pytest.raises(MaskbenchError, match=re.escape(needle)):
        load_config(over, root=root)


@pytest.mark.parametrize("over, needle", [
    (["task=sentiment_zh", "task.text_fields=[[1]]"], "task.text_fields=[[1]] must be a list of strings"),
    (["train.betas=[0.9,[1]]"], "train.betas=[0.9, [1]] must be a list of numbers"),
    (["train.betas=[0.9,{a: 1}]"], "train.betas=[0.9, {'a': 1}] must be a list of numbers"),
    (["data.paths=[a,[b]]"], "data.paths=['a', ['b']] must be a list of strings"),
])
def test_a_list_holding_the_wrong_kind_of_item_is_one_line_naming_its_key(over, needle):
    """OmegaConf checks a list field's own type at a merge but not its items ([[1]] passes as a List[str] and
    breaks later, when the config is written): the declared item type is checked with the bounds."""
    root = "finetune" if any(o.startswith("task=") for o in over) else "pretrain"
    with pytest.raises(MaskbenchError, match=re.escape(needle)):
        load_config(over, root=root)
