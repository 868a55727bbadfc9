"""`maskbench predict RUN (--text T [--text-pair P] | --file F)`: a fine-tuned model on new inputs.

One JSON object per input, in input order: `label` and `probs` (sentence, pair), `words`, `tags` and
`scores` (tagging), `id`, `answer`, `start`, `end` (characters, end exclusive) and `score` (QA). The inputs
are encoded, batched and scored exactly as the run's evaluation does, so a labelled file (the run's own
dev file) also gets the run's metric, computed by the same scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from maskbench.errors import MaskbenchError
from maskbench.runs.task_model import SavedTaskModel, load_task_model
from maskbench.tasks.common import PREDICT

SUFFIX_FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".conllu": "conllu",
                  ".conll": "conll", ".txt": "txt"}


def read_inputs(saved: SavedTaskModel, text: str | None, text_pair: str | None, file: Path | None) -> list:
    """The examples to predict: one from --text (and --text-pair), or every input of --file."""
    kind = saved.kind
    if (text is None) == (file is None):
        raise MaskbenchError("give either --text (with --text-pair for pairs and QA) or --file")
    if file is None:
        return [kind.from_text(text, text_pair)]
    if text_pair is not None:
        raise MaskbenchError("--text-pair goes with --text; a --file holds both parts of each input")
    fmt = SUFFIX_FORMATS.get(Path(file).suffix.lower())
    if fmt != "txt" and fmt not in kind.input_formats:
        known = ", ".join(f".{f}" for f in (*kind.input_formats, "txt"))
        raise MaskbenchError(f"{file}: a {kind.name} model reads {known} files (the suffix says the format)")
    examples = kind.read_inputs(file, fmt)
    kind.check_labels(examples, saved.labels, file, PREDICT)  # the file's labels against the model's own
    return examples


@torch.no_grad()
def predict(saved: SavedTaskModel, examples: list, batch_size: int = 32, progress=None) -> tuple[list[dict], dict]:
    """(one output dict per example, the task's metrics when every example is labelled, else {}).
    `progress(total)`, if given, returns the function advanced by the features done."""
    from maskbench.tasks.batching import collate

    kind = saved.kind
    features = kind.encode(examples, saved.labels, saved.tok, saved.vocab, saved.arch, train=False)
    too_long = max(len(f.ids) for f in features)
    if too_long > saved.model_cfg.max_positions:  # cannot happen with the run's own task.max_len; say so if it does
        raise MaskbenchError(f"an input is {too_long} tokens, the model takes {saved.model_cfg.max_positions}")
    advance = progress(len(features)) if progress is not None else (lambda k: None)
    predictor = kind.predictor(saved.labels, examples)
    scorer = kind.scorer(examples) if kind.labelled(examples) else None
    for k in range(0, len(features), batch_size):
        part = features[k:k + batch_size]
        batch = collate(part, kind, saved.arch, saved.vocab.pad)
        logits = saved.model(batch).float()
        predictor.add(logits, batch, part)
        if scorer is not None:
            scorer.add(logits, batch, part)
        advance(len(part))
    return predictor.rows(), (scorer.finish()[0] if scorer is not None else {})


def run_predict(path: Path, text: str | None, text_pair: str | None, file: Path | None, out: Path | None,
                batch_size: int, console, err_console, step: int | None = None) -> list[dict]:
    if batch_size < 1:
        raise MaskbenchError(f"--batch-size={batch_size}: give a positive number")
    saved = load_task_model(path, step, what="predict")
    chosen = step is None and not (Path(path) / "model.safetensors").exists()
    if chosen and saved.checkpoint.name != "final":  # a run still training (or stopped): say which one
        err_console.print(f"note: {saved.checkpoint.parent.parent.name} has no final checkpoint yet; predicting with "
                          f"{saved.checkpoint.name}", markup=False, highlight=False)
    examples = read_inputs(saved, text, text_pair, file)
    if file is None:
        rows, metrics = predict(saved, examples, batch_size)
    else:
        rows, metrics = _with_progress(saved, examples, batch_size, err_console)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out is None:
        console.out(lines, end="", highlight=False)
    else:
        from maskbench.files import write_atomic

        out = Path(out).expanduser()
        if out.is_dir():
            raise MaskbenchError(f"-o {out} is a folder: give a file name, e.g. -o {out / 'predictions.jsonl'}")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, lines)
        err_console.print(f"wrote {len(rows):,} predictions to {out}", markup=False, highlight=False)
    if metrics:
        shown = ", ".join(f"{k} = {v}" for k, v in metrics.items())
        err_console.print(f"{saved.task.name}: {shown} on {len(examples):,} labelled inputs of {file}",
                          markup=False, highlight=False)
    return rows


def _with_progress(saved, examples, batch_size, err_console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # off where standard error is no terminal: rich's transient bar leaves an empty line in a log or a pipe
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        def start(total):
            job = bar.add_task("predict", total=total)
            return lambda k: bar.advance(job, k)

        return predict(saved, examples, batch_size, progress=start)
