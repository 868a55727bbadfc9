"""Check fine-tuned models on real data: `python scripts/check_predict.py OUT_DIR [override ...]`.

For SST-2, UD English POS, SNLI and SQuAD (../shared/data, or $MASKBENCH_DATA), on both architectures:
fine-tune (`maskbench finetune`, the overrides added), run `maskbench predict RUN --file DEV` and print the
run's own final metric next to predict's on the same dev file. For the encoder, also `maskbench export` and
compare transformers with predict on 20 dev examples: pipeline("text-classification") labels and scores,
pipeline("token-classification") tags and scores at each word's first sub-word, and for QA (transformers 5 has
no question-answering pipeline) AutoModelForQuestionAnswering's start/end logits read with predict's rule, on
dev questions whose context fits one window.
SQuAD's dev set is cut to its first 300 questions (the same file for the run's evaluation and predict).
Needs the [hf] extra.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(os.environ.get("MASKBENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def maskbench(*args) -> str:
    res = subprocess.run([sys.executable, "-m", "maskbench", *args], capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"maskbench {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return res.stdout + res.stderr


def squad_subset(out: Path, n: int = 300) -> Path:
    data = json.loads((DATA / "squad" / "dev-v1.1.json").read_text())
    kept, count = [], 0
    for article in data["data"]:
        paras = []
        for para in article["paragraphs"]:
            qas = para["qas"][:max(0, n - count)]
            count += len(qas)
            if qas:
                paras.append({**para, "qas": qas})
        if paras:
            kept.append({**article, "paragraphs": paras})
    path = out / f"squad-dev-{n}.json"
    path.write_text(json.dumps({"version": "1.1", "data": kept}))
    return path


def dev_file(task: str, out: Path) -> Path:
    return {"sst2": DATA / "sst2" / "dev.tsv", "pos": DATA / "ud_ewt" / "en_ewt-ud-dev.conllu",
            "nli": DATA / "snli" / "dev.jsonl", "qa": squad_subset(out)}[task]


def predict_vs_pipelines(run: Path, task: str, dev: Path, out: Path) -> str:
    """Largest |score difference| and label agreement between transformers and predict on 20 dev examples."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline

    from maskbench.inspect.predict import predict, read_inputs
    from maskbench.tasks.qa import best_spans
    from maskbench.runs.task_model import load_task_model

    import shutil

    hf = out / f"export-{task}"
    shutil.rmtree(hf, ignore_errors=True)
    said = " ".join(maskbench("export", str(run), "-o", str(hf)).split())
    saved = load_task_model(run)
    examples = read_inputs(saved, None, None, dev)
    if task == "qa":  # transformers reads one window: questions whose context fits one
        windows = [f.example for f in saved.kind.encode(examples, saved.labels, saved.tok, saved.vocab, saved.arch,
                                                         train=False)]
        examples = [e for n, e in enumerate(examples) if windows.count(n) == 1]
    examples = examples[:20]
    rows, _ = predict(saved, examples)
    worst, agree = 0.0, 0
    if task in ("sst2", "nli"):
        pipe = pipeline("text-classification", model=str(hf))
        for e, row in zip(examples, rows):
            got = pipe(e.texts[0] if len(e.texts) == 1 else {"text": e.texts[0], "text_pair": e.texts[1]}, top_k=None)
            agree += got[0]["label"] == row["label"]
            worst = max(worst, *(abs(g["score"] - row["probs"][g["label"]]) for g in got))
    elif task == "pos":  # per sub-word ("none"), read at each word's first sub-word, as predict reads it
        pipe = pipeline("token-classification", model=str(hf), aggregation_strategy="none")
        for e, row in zip(examples, rows):
            starts = [sum(len(w) + 1 for w in e.words[:i]) for i in range(len(e.words))]
            first = {}
            for g in pipe(" ".join(e.words)):
                first.setdefault(g["start"], g)
            got = [first.get(s) for s in starts]
            agree += [g and g["entity"] for g in got] == row["tags"]
            worst = max(worst, *(abs(float(g["score"]) - s) for g, s in zip(got, row["scores"]) if g and s))
    else:
        tok = AutoTokenizer.from_pretrained(str(hf))
        model = AutoModelForQuestionAnswering.from_pretrained(str(hf)).eval()
        for e, row in zip(examples, rows):
            enc = tok(e.question, e.context, return_offsets_mapping=True, return_tensors="pt", truncation="only_second",
                      max_length=saved.task.max_len)
            with torch.no_grad():
                o = model(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
            ctx = torch.tensor([[s == 1 for s in enc.sequence_ids(0)]])
            i, j, _ = (int(x) for x in best_spans(o.start_logits, o.end_logits, ctx, saved.task.max_answer_len))
            off = enc["offset_mapping"][0]
            agree += e.context[int(off[i][0]):int(off[j][1])] == row["answer"]
            p = (o.start_logits.masked_fill(~ctx, float("-inf")).softmax(-1)[0, i] *
                 o.end_logits.masked_fill(~ctx, float("-inf")).softmax(-1)[0, j])
            worst = max(worst, abs(float(p) - row["score"]))
    cls = re.search(r"as (\w+)", said).group(1)
    return f"{cls}: {agree}/20 same, largest score difference {worst:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("overrides", nargs="*", help="added to every fine-tuning (e.g. model=mini train.max_steps=300)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("| task | arch | run's final metric | predict on the dev file | transformers (20 dev examples) |")
    print("|---|---|---|---|---|")
    for task in ("sst2", "pos", "nli", "qa"):
        dev = dev_file(task, args.out)
        for arch in ("encoder", "encoder_decoder"):
            run = args.out / f"{task}-{arch}"
            if not (run / "summary.json").exists():  # a finished fine-tuning is reused
                maskbench("finetune", f"task={task}", f"arch={arch}", f"task.eval_file={dev}", f"run.dir={run}",
                          "runtime.progress=false", *args.overrides)
            summary = json.loads((run / "summary.json").read_text())
            metric = summary["metric"]
            said = " ".join(maskbench("predict", str(run), "--file", str(dev), "-o", str(run / "dev.jsonl")).split())
            found = re.search(rf"{metric} = ([0-9.]+) on ([0-9,]+) labelled", said)
            theirs = predict_vs_pipelines(run, task, dev, args.out) if arch == "encoder" else "(no exact class: one line)"
            print(f"| {task} | {arch} | {metric} {summary['final_eval'][metric]} | {found.group(1)} on "
                  f"{found.group(2)} | {theirs} |", flush=True)


if __name__ == "__main__":
    main()
