"""`maskbench finetune`: a pretrained checkpoint (or the same model from scratch) on one of the four
task shapes, with the shared training loop, evaluation every N steps, and a run folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from rich.markup import escape

from maskbench.config import config_hash, to_yaml, with_changes
from maskbench.corruption.base import IGNORE, Corrupted
from maskbench.data.builtin import resolve_builtin
from maskbench.data.hub import is_hub
from maskbench.data.subsets import count_examples, subset_features, subset_schedule
from maskbench.data.hub import task_file as hub_task_file
from maskbench.data.task_features import encode_qa, encode_tagged, encode_texts
from maskbench.data.tasks import check_labels, label_set, read_squad, read_tagged, read_text_examples
from maskbench.data.tokenizer import Vocab, load_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.models import build_model, count_params
from maskbench.models.heads import SENTENCE_KINDS, TaskModel
from maskbench.models.source import ModelSource, resolve_source
from maskbench.runs.lock import has_content, run_lock
from maskbench.runs.rundir import MetricsLog, env_info, read_metrics, write_atomic
from maskbench.runs.trackers import open_trackers
from maskbench.train.checkpoint import TrainState, save_checkpoint
from maskbench.train.distributed import Dist
from maskbench.train.loop import Interrupted, LoopHooks, train_loop
from maskbench.train.optim import build_optimizer
from maskbench.train.setup import configure_torch, pick_device


def resolve_init(cfg) -> ModelSource:
    """init=scratch (the model, arch and data groups with random weights), a maskbench run or checkpoint,
    or a transformers model folder."""
    init = str(cfg.init)
    if init == "scratch":
        from maskbench.data.cache import build_cache

        cache = build_cache(cfg.data)
        return ModelSource.scratch(cfg.model, cfg.arch.name, cache / "tokenizer.json")
    return resolve_source(init, cfg.data.get("cache_dir"))


def task_file(spec, task, cache_dir=None):
    """(file, format, overrides) of one task file: `builtin:NAME` and `hf:...` resolved into the cache
    (written on first use); hf: data comes in the reader format its kind uses."""
    if is_hub(spec):
        from maskbench.data.corpus import cache_root

        path, fmt = hub_task_file(str(spec), task, cache_root(cache_dir))
        return str(path), fmt, {"word_column": 0, "tag_column": 1}
    return str(resolve_builtin(spec, cache_dir)), task.format, {}


def load_task(task, tok, vocab: Vocab, arch: str, cache_dir=None):
    """(train features, eval features, label names, eval references for QA)."""
    kind = task.kind
    (train_file, train_fmt, train_cols), (eval_file, eval_fmt, eval_cols) = (
        task_file(task.train_file, task, cache_dir), task_file(task.eval_file, task, cache_dir))
    n_eval = task.get("max_eval_examples")
    if kind in SENTENCE_KINDS:
        fields = list(task.text_fields)
        if kind == "pair_classification" and len(fields) != 2:
            raise MaskbenchError(f"task.text_fields={fields}: a pair task needs two fields")
        train = read_text_examples(train_file, train_fmt, fields, task.label_field)
        dev = read_text_examples(eval_file, eval_fmt, fields, task.label_field)[:n_eval]
        labels = label_set([e.label for e in train], task.labels, train_file)
        check_labels([e.label for e in train], labels, str(train_file))
        check_labels([e.label for e in dev], labels, str(eval_file))
        enc = lambda ex: encode_texts(ex, labels, tok, vocab, arch, task.max_len)  # noqa: E731
        return enc(train), enc(dev), labels, None
    if kind == "tagging":
        cols = lambda c: (c.get("word_column", task.word_column), c.get("tag_column", task.tag_column))  # noqa: E731
        train = read_tagged(train_file, train_fmt, *cols(train_cols))
        dev = read_tagged(eval_file, eval_fmt, *cols(eval_cols))[:n_eval]
        labels = label_set([t for s in train for t in s.tags], task.labels, train_file)
        check_labels([t for s in train for t in s.tags], labels, str(train_file))
        check_labels([t for s in dev for t in s.tags], labels, str(eval_file))
        enc = lambda ex: encode_tagged(ex, labels, tok, vocab, arch, task.max_len)  # noqa: E731
        return enc(train), enc(dev), labels, None
    if kind == "qa":
        train = read_squad(train_file)
        dev = read_squad(eval_file)[:n_eval]
        tr = encode_qa(train, tok, vocab, arch, task.max_len, task.doc_stride, task.max_query_len, train=True)
        ev = encode_qa(dev, tok, vocab, arch, task.max_len, task.doc_stride, task.max_query_len, train=False)
        return tr, ev, ["start", "end"], dev
    raise MaskbenchError(f"task.kind={kind} is unknown: use classification, pair_classification, tagging or qa")


def collate(features, kind: str, arch: str, pad: int) -> Corrupted:
    B = len(features)
    S = max(len(f.ids) for f in features)
    ids = torch.full((B, S), pad, dtype=torch.long)
    types = torch.zeros((B, S), dtype=torch.long)
    for i, f in enumerate(features):
        ids[i, :len(f.ids)] = torch.tensor(f.ids)
        types[i, :len(f.types)] = torch.tensor(f.types)
    lengths = torch.tensor([len(f.ids) for f in features])
    pad_mask = torch.arange(S)[None, :] >= lengths[:, None]
    if kind in SENTENCE_KINDS:
        labels = torch.tensor([f.label for f in features])
    elif kind == "tagging":
        labels = torch.full((B, S), IGNORE, dtype=torch.long)
        for i, f in enumerate(features):
            labels[i, :len(f.label)] = torch.tensor(f.label)
    else:
        labels = torch.tensor([list(f.label) for f in features])
    return Corrupted(input_ids=ids, labels=labels, pad_mask=pad_mask if bool(pad_mask.any()) else None,
                     token_type_ids=types if arch == "encoder" else None,
                     decoder_input_ids=ids if arch == "encoder_decoder" else None)


def task_loss(kind: str, logits: torch.Tensor, batch) -> tuple:
    """(loss sum, count, correct) of one batch, so the shared loop normalises it as in pretraining."""
    if kind in SENTENCE_KINDS:
        y = batch.labels
        return F.cross_entropy(logits, y, reduction="sum"), y.new_tensor(y.numel()), (logits.argmax(-1) == y).sum()
    if kind == "tagging":
        sel = batch.labels != IGNORE
        y, lg = batch.labels[sel], logits[sel]
        return F.cross_entropy(lg, y, reduction="sum"), y.new_tensor(y.numel()), (lg.argmax(-1) == y).sum()
    # QA: mean of start and end cross-entropy over context positions; padding can never be chosen.
    if batch.pad_mask is not None:
        logits = logits.masked_fill(batch.pad_mask[..., None], -1e4)
    start, end = logits[..., 0], logits[..., 1]
    ys, ye = batch.labels[:, 0], batch.labels[:, 1]
    loss = (F.cross_entropy(start, ys, reduction="sum") + F.cross_entropy(end, ye, reduction="sum")) / 2
    correct = ((start.argmax(-1) == ys) & (end.argmax(-1) == ye)).sum()
    return loss, ys.new_tensor(ys.numel()), correct


def task_terms(kind: str):
    return lambda model, batch: {"task": task_loss(kind, model(batch).float(), batch)}


def example_units(kind: str, logits: torch.Tensor, batch) -> tuple[list, list]:
    """Per evaluation example, (numerator, denominator) of the accuracy: the units a paired bootstrap resamples."""
    if kind in SENTENCE_KINDS:
        right = (logits.argmax(-1) == batch.labels).long()
        return right.tolist(), [1] * len(right)
    sel = batch.labels != IGNORE
    right = ((logits.argmax(-1) == batch.labels) & sel).sum(1)
    return right.tolist(), sel.sum(1).tolist()


def best_spans(start: torch.Tensor, end: torch.Tensor, context: torch.Tensor, max_answer: int):
    """Best (i, j) with i <= j < i + max_answer inside the context, per row. Returns (i, j, score)."""
    B, S = start.shape
    scores = start[:, :, None] + end[:, None, :]
    i = torch.arange(S)[:, None]
    j = torch.arange(S)[None, :]
    valid = (j >= i) & (j < i + max_answer)
    valid = valid[None] & context[:, :, None] & context[:, None, :]
    scores = scores.masked_fill(~valid, float("-inf"))
    flat = scores.view(B, -1).argmax(1)
    return flat // S, flat % S, scores.view(B, -1).max(1).values


@torch.no_grad()
def evaluate_task(model, features, kind: str, arch: str, vocab: Vocab, device: str, batch_size: int,
                  qa_examples=None, max_answer: int = 30, metric: str = "") -> tuple[dict, dict]:
    """(metrics, units): the eval metrics, and per example the (numerator, denominator) of `metric`
    (correct/1 for sentences, correct/tagged tokens per sentence, EM or F1 per question) for intervals."""
    from maskbench.data.squad_metric import squad_example_scores
    from maskbench.train.loop import _autocast

    model.eval()
    loss_sum = count = correct = 0.0
    num, den = [], []
    best: dict[int, tuple[float, str]] = {}
    for k in range(0, len(features), batch_size):
        part = features[k:k + batch_size]
        batch = collate(part, kind, arch, vocab.pad).to(device)
        with _autocast(device, "auto"):
            logits = model(batch).float()
        s, n, c = task_loss(kind, logits, batch)
        loss_sum, count, correct = loss_sum + float(s), count + float(n), correct + float(c)
        if kind != "qa":
            a, b = example_units(kind, logits, batch)
            num, den = num + a, den + b
            continue
        logits = logits.cpu()
        ctx = torch.zeros(logits.shape[:2], dtype=torch.bool)
        for r, f in enumerate(part):
            ctx[r, :len(f.offsets)] = torch.tensor([o is not None for o in f.offsets])
        i, j, score = best_spans(logits[..., 0], logits[..., 1], ctx, max_answer)
        for r, f in enumerate(part):
            ex = qa_examples[f.example]
            if f.offsets[int(i[r])] is None:
                continue
            text = ex.context[f.offsets[int(i[r])][0]:f.offsets[int(j[r])][1]]
            if f.example not in best or float(score[r]) > best[f.example][0]:
                best[f.example] = (float(score[r]), text)
    out = {"loss": round(loss_sum / max(count, 1.0), 5)}
    if kind in SENTENCE_KINDS:
        out["accuracy"] = round(100 * correct / max(count, 1.0), 3)
    elif kind == "tagging":
        out["token_accuracy"] = round(100 * correct / max(count, 1.0), 3)
    else:
        preds = {qa_examples[n].qid: text for n, (_, text) in best.items()}
        per = squad_example_scores(preds, {ex.qid: ex.answers for ex in qa_examples})
        pick = 0 if metric == "exact_match" else 1
        num, den = [per[ex.qid][pick] for ex in qa_examples], [1] * len(qa_examples)
        out["exact_match"] = round(100.0 * sum(e for e, _ in per.values()) / max(len(per), 1), 3)
        out["f1"] = round(100.0 * sum(f for _, f in per.values()) / max(len(per), 1), 3)
    return out, {"metric": metric, "num": num, "den": den}


class FinetuneBatches:
    """Step s -> a batch of training features, from a per-epoch permutation seeded by (seed, epoch)."""

    def __init__(self, features, batch_size: int, seed: int, kind: str, arch: str, pad: int):
        self.features, self.batch_size, self.seed = features, batch_size, seed
        self.kind, self.arch, self.pad = kind, arch, pad
        self.steps_per_epoch = max(1, len(features) // batch_size)
        self._epoch, self._perm = None, None

    def batch(self, step: int):
        epoch, j = divmod(step, self.steps_per_epoch)
        if self._epoch != epoch:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch + 17) & 0x7FFFFFFF)
            self._perm, self._epoch = torch.randperm(len(self.features), generator=g), epoch
        idx = self._perm[j * self.batch_size:(j + 1) * self.batch_size].tolist()
        b = collate([self.features[i] for i in idx], self.kind, self.arch, self.pad)
        return b, int(sum(len(self.features[i].ids) for i in idx))


def finetune_run_dir(cfg, backbone: ModelSource) -> Path:
    if cfg.run.dir:
        return Path(str(cfg.run.dir)).expanduser().resolve()
    tag = backbone.label
    return (Path(str(cfg.run.root)) / f"ft-{cfg.task.name}-{tag}-s{cfg.seed}-{config_hash(cfg)}").resolve()


def run_finetune(cfg, command: str = "", console=None, backbone: ModelSource | None = None,
                 run_dir: Path | None = None) -> Path:
    say = (lambda msg: console.print(msg)) if console else (lambda msg: None)
    backbone = backbone or resolve_init(cfg)
    device = pick_device(cfg.runtime)
    configure_torch(cfg.runtime, cfg.seed, device)
    task = cfg.task
    tok = load_tokenizer(backbone.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    train_f, eval_f, labels, qa_examples = load_task(task, tok, vocab, backbone.arch, cfg.data.get("cache_dir"))
    n_all = count_examples(train_f)
    train_f = subset_features(train_f, task.get("train_size"), cfg.seed, balanced=task.kind in SENTENCE_KINDS)
    if count_examples(train_f) < n_all:
        steps, every = subset_schedule(int(cfg.train.max_steps), int(cfg.train.eval_every), count_examples(train_f),
                                       n_all, int(cfg.train.get("subset_min_steps", 50)))
        say(f"{count_examples(train_f):,} of {n_all:,} training examples (task.train_size, seeded by seed={cfg.seed}):"
            f" {steps} steps, evaluated every {every}")
        cfg = with_changes(cfg, train={"max_steps": steps, "eval_every": every})
    longest = max(len(f.ids) for f in train_f + eval_f)
    if longest > backbone.model_cfg.max_positions:
        raise MaskbenchError(f"task.max_len={task.max_len} exceeds the model's max_positions="
                             f"{backbone.model_cfg.max_positions}: lower task.max_len")
    run_dir = run_dir or finetune_run_dir(cfg, backbone)
    if (run_dir / "summary.json").exists():
        say(f"[green]{escape(run_dir.name)} is already complete[/]")
        return run_dir
    with run_lock(run_dir):  # one writer per run folder
        return _finetune_locked(cfg, command, say, backbone, run_dir, device, tok, vocab, train_f, eval_f, labels,
                                qa_examples)


def _finetune_locked(cfg, command, say, backbone, run_dir, device, tok, vocab, train_f, eval_f, labels, qa_examples):
    task, t = cfg.task, cfg.train
    if has_content(run_dir) and not t.resume:
        raise MaskbenchError(f"run folder {run_dir} already exists: add train.resume=true (a fine-tuning run "
                             f"restarts from scratch) or give run.dir=NEW_FOLDER")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").unlink(missing_ok=True)

    torch.manual_seed(cfg.seed)  # same seed -> same head init and dropout for pretrained and scratch
    mcfg = OmegaConf.merge(backbone.model_cfg, {"dropout": float(task.dropout)})
    net = build_model(mcfg, backbone.arch, vocab.size)
    backbone.load_into(net)
    torch.manual_seed(cfg.seed + 1)
    model = TaskModel(net, task.kind, len(labels), float(task.dropout), str(task.get("pooling", "token")),
                      freeze=bool(task.get("freeze", False)), probe_layer=task.get("probe_layer")).to(device)
    optimizer = build_optimizer(model, t)
    params = count_params(model)
    config_yaml = to_yaml(cfg)
    write_atomic(run_dir / "config.yaml", config_yaml)
    write_atomic(run_dir / "command.txt", command + "\n")
    write_atomic(run_dir / "env.json", json.dumps(env_info(cfg.seed, device), indent=1))
    write_atomic(run_dir / "labels.json", json.dumps(labels))
    (run_dir / "tokenizer.json").write_text(backbone.tokenizer_path.read_text())
    say(f"[bold]{task.name}[/] from [bold]{escape(backbone.source)}[/] "
        f"({backbone.arch}, {params / 1e6:.2f}M params, {len(train_f):,} train / {len(eval_f):,} eval) -> "
        f"{escape(str(run_dir))}")
    batches = FinetuneBatches(train_f, t.batch_size, cfg.seed, task.kind, backbone.arch, vocab.pad)
    metrics = MetricsLog(run_dir / "metrics.jsonl", trackers=open_trackers(cfg, run_dir))

    last_units = {}

    def evaluate():
        out, units = evaluate_task(model, eval_f, task.kind, backbone.arch, vocab, device, 64, qa_examples,
                                   int(task.get("max_answer_len", 30)), str(task.metric))
        last_units.update(units)
        return out

    def save(state: TrainState, final: bool):
        if final:
            save_checkpoint(run_dir / "checkpoints" / "final", model.backbone, None, state, config_yaml,
                            run_dir / "tokenizer.json", {"params": params, "task": task.name})

    def batch_on_device(step):
        batch, n_tokens = batches.batch(step)
        return batch.to(device), n_tokens

    hooks = LoopHooks(batch=batch_on_device,
                      terms=task_terms(task.kind), evaluate=evaluate, save=save, log=metrics.log)
    try:
        first = evaluate()
        metrics.log(step=0, split="eval", **first)
        state = train_loop(model, optimizer, t, TrainState(), hooks, Dist(), device, str(cfg.runtime.precision),
                           show_progress=bool(cfg.runtime.progress), description=f"{task.name}",
                           eval_split="eval")
    except Interrupted as stop:
        raise MaskbenchError(f"interrupted at step {stop.step}: re-run with train.resume=true to start this "
                             f"fine-tuning run again ({run_dir})") from None
    finally:
        metrics.close()
    evals = [e for e in read_metrics(run_dir) if e["split"] == "eval"]
    final = {k: v for k, v in evals[-1].items() if k not in ("step", "split", "tokens", "elapsed_s")}
    summary = {"kind": "finetune", "task": task.name, "init": "pretrained" if backbone.pretrained else "scratch",
               "objective": backbone.objective,
               "init_source": backbone.source, "arch": backbone.arch, "model": backbone.model_cfg.get("name"),
               "seed": cfg.seed, "train_examples": count_examples(train_f), "steps": state.step, "tokens_seen": state.tokens_seen, "params": params,
               "wall_s": round(state.wall_s, 2), "metric": task.metric,
               "freeze": bool(task.get("freeze", False)), "probe_layer": task.get("probe_layer"), "final_eval": final,
               "initial_eval": {k: v for k, v in first.items()}}
    write_atomic(run_dir / "eval_units.json", json.dumps(last_units))  # per-example scores: intervals
    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=1))
    say(f"[green]{task.name}[/]: {task.metric} = {final.get(task.metric)} ({time.strftime('%H:%M:%S')})")
    return run_dir
