"""A quality-per-second race: how fast does each masked LM leave the plateau, in steps and in seconds?

    python benchmarks/bench_quality.py                       # the main job's pretraining, 600 steps each (~10 min)
    python benchmarks/bench_quality.py --steps 40 --eval-every 20 --val-blocks 8   # a smoke run

maskbench's recipes (learned positions, and rotary ones: `model.positions=rope`) race transformers'
`BertForMaskedLM` (learned) and `RoFormerForMaskedLM` (rotary) of the same shape, on the same data: the main job's
pretraining (experiment=reviews_pretrain: its pinned tokenizer, review blocks, 2 x 128 encoder, batch 32, lr 2e-3,
AdamW 0.9/0.98, 6% warm-up then linear decay over `--schedule` steps, gradient clip 1.0, dropout 0, fp32), the same
`PretrainBatches` (seed 0) and the same fixed validation batches. Each model follows its own conventions: maskbench
its optimizer groups, sparse last block and fused loss; transformers' models the Trainer's (no decay on biases and
LayerNorms) with their MLM head applied at the labelled positions only.

The models take turns, `--eval-every` optimizer steps each then its evaluation (so a machine whose speed drifts
within minutes is shared fairly, while each model's weights stay in the CPU caches through its stretch: turns of a
single step measured 1.5-2x slower for every model), and each one's clock counts only its own steps (not batch
building, not evaluation). A model trains until it has done `--steps`
steps *and* its clock has reached the time the slowest model needed for them: the table reads every model at the
same step and at the same second. Validation every `--eval-every` steps: loss and masked-token accuracy.

The plateau: a masked LM first learns which tokens are in a block (the unigram and bag-of-words guesses), then where
they are. Count baselines on the same validation labels, counted from the training split: the unigram guess (the
most frequent token), the one-neighbour bigram (the most frequent token after the left neighbour, or before the
right one; the better of the two) and both neighbours (backing off to the left bigram for a pair never seen). A
model "leaves the plateau" at the first evaluation where its masked accuracy beats the one-neighbour bigram: it
reads its neighbours, which needs positions. The neighbours are the tokens of the corrupted input the model reads
(a masked neighbour is a [MASK], after which training text never has a token: the guess falls back to the unigram).

Prints the race, the plateau exits and the goal (maskbench+rope reaches RoFormer's last-step validation loss in at
most half RoFormer's wall time); `--out` writes the numbers (JSON) and a figure.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

MODELS = ("maskbench", "maskbench_rope", "bert", "roformer")
LABELS = {"maskbench": "maskbench (pre-LN, learned positions)", "maskbench_rope": "maskbench (pre-LN, rotary)",
          "bert": "transformers BertForMaskedLM (post-LN, learned)",
          "roformer": "transformers RoFormerForMaskedLM (post-LN, rotary)"}


def setup(args):
    """The main job's pretraining config, its batches, validation batches and vocabulary."""
    from maskbench.config import load_config
    from maskbench.corruption import build_corruption
    from maskbench.data.blocks import BlockStore
    from maskbench.data.cache import build_cache, load_cache_tokenizer
    from maskbench.data.tokenizer import Vocab
    from maskbench.train.batches import PretrainBatches, validation_batches

    cfg = load_config([f"experiment={args.experiment}", f"train.max_steps={args.schedule}", *args.override])
    cache = build_cache(cfg.data)
    vocab = Vocab.from_tokenizer(load_cache_tokenizer(cache))
    corruption = build_corruption(cfg.corruption, cfg.arch.name, vocab)
    train = BlockStore(cache, "train", cfg.data.content_len)
    val_store = BlockStore(cache, "val", cfg.data.content_len)
    batches = PretrainBatches(train, corruption, cfg.seed, cfg.train.batch_size)
    val = validation_batches(val_store, corruption, cfg.seed, args.val_blocks or cfg.data.val_blocks,
                             cfg.train.batch_size)
    return cfg, vocab, train, batches, val


# ---- the racers -----------------------------------------------------------------------------------------------

@dataclass
class Racer:
    name: str
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    loss_sum: object            # (batch) -> (sum of CE, count, correct or None)
    params: int
    train: object               # its TrainConfig: learning-rate schedule and clipping
    step: int = 0
    clock: float = 0.0          # seconds in this racer's own training steps
    evals: list = field(default_factory=list)


def maskbench_racer(name: str, cfg, vocab, positions: str) -> Racer:
    from maskbench.config import with_changes
    from maskbench.models import build_model, count_params
    from maskbench.train.losses import pretrain_terms
    from maskbench.train.optim import build_optimizer

    c = with_changes(cfg, model={"positions": positions})
    torch.manual_seed(0)
    model = build_model(c.model, c.arch.name, vocab.size)

    def loss_sum(b):
        s, n, correct, _ = pretrain_terms(model, b)["mlm"]
        return s, n, (None if int(correct) < 0 else correct)
    return Racer(name, model, build_optimizer(model, c.train), loss_sum, count_params(model), c.train)


def hf_racer(name: str, cfg, vocab) -> Racer:
    """transformers' model of the same shape; MLM head at the labelled positions; Trainer's decay groups."""
    import transformers

    m = cfg.model
    common = dict(vocab_size=vocab.size, hidden_size=m.d_model, num_hidden_layers=m.n_layers,
                  num_attention_heads=m.n_heads, intermediate_size=m.d_ff, max_position_embeddings=m.max_positions,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=vocab.pad)
    torch.manual_seed(0)
    if name == "bert":
        model = transformers.BertForMaskedLM(transformers.BertConfig(**common))
        base, head = model.bert, model.cls
    else:
        model = transformers.RoFormerForMaskedLM(transformers.RoFormerConfig(**common))
        base, head = model.roformer, model.cls

    def loss_sum(b):
        sel = b.labels >= 0
        h = base(input_ids=b.input_ids, token_type_ids=torch.zeros_like(b.input_ids))[0][sel]
        logits = head(h)
        target = b.labels[sel]
        correct = None if model.training else (logits.argmax(-1) == target).sum()
        return F.cross_entropy(logits, target, reduction="sum"), target.new_tensor(target.numel()), correct

    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    ids = {id(p) for p in no_decay}
    decay = [p for p in model.parameters() if id(p) not in ids]
    t = cfg.train
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=t.lr, betas=tuple(t.betas), eps=1e-8)
    return Racer(name, model, opt, loss_sum, sum(p.numel() for p in model.parameters()), t)


def train_step(r: Racer, batch, lr: float, clip: float) -> None:
    t0 = time.perf_counter()
    r.model.train()
    for g in r.opt.param_groups:
        g["lr"] = lr
    s, n, _ = r.loss_sum(batch)
    (s / n).backward()
    torch.nn.utils.clip_grad_norm_(r.model.parameters(), clip)
    r.opt.step()
    r.opt.zero_grad(set_to_none=True)
    r.clock += time.perf_counter() - t0
    r.step += 1


@torch.no_grad()
def evaluate(r: Racer, val: list) -> dict:
    r.model.eval()
    total, count, correct = 0.0, 0, 0
    for b in val:
        s, n, c = r.loss_sum(b)
        total, count, correct = total + float(s), count + int(n), correct + int(c)
    point = {"step": r.step, "seconds": round(r.clock, 2), "val_loss": round(total / count, 4),
             "masked_acc": round(correct / count, 4)}
    r.evals.append(point)
    return point


def warm_up(make_racer, batch, steps: int = 5) -> None:
    """A few steps of a throwaway copy of a racer, so that no racer's clock pays for first-call allocations."""
    r = make_racer()
    for s in range(steps):
        train_step(r, batch(s), 1e-4, 1.0)


def race(args, batches, val, racers: list[Racer], say=print) -> float:
    """Round-robin steps until every racer has done args.steps and its clock has reached the slowest one's time for
    them; returns that time."""
    from maskbench.train.optim import lr_at

    built: dict[int, object] = {}

    def batch(step):
        if step not in built:
            built[step] = batches.batch(step)[0].drop_diagnostics()
        return built[step]

    for r in racers:
        evaluate(r, val)
    target = math.inf
    while True:
        active = [r for r in racers if r.step < args.steps or r.clock < target]
        if not active:
            return target
        for r in active:  # a stretch of eval_every steps each, then its evaluation
            for _ in range(args.eval_every):
                train_step(r, batch(r.step), lr_at(r.step, r.train), r.train.grad_clip)
            p = evaluate(r, val)
            say(f"{r.name:15s} step {p['step']:5d}  {p['seconds']:7.1f} s  val {p['val_loss']:.3f}  "
                f"masked acc {100 * p['masked_acc']:5.1f}%")
        if math.isinf(target) and all(r.step >= args.steps for r in racers):
            target = max(r.clock for r in racers)
            say(f"every model has done {args.steps} steps; the slowest took {target:.1f} s: "
                f"the faster ones go on until their clocks reach it")
        done = min(x.step for x in racers)  # drop batches nobody needs any more
        for s in [s for s in built if s < done]:
            del built[s]


# ---- reading the race -----------------------------------------------------------------------------------------

def at_step(r: Racer, step: int) -> dict | None:
    return next((p for p in r.evals if p["step"] == step), None)


def at_seconds(r: Racer, seconds: float) -> dict:
    """The last evaluation at or before `seconds` of this racer's clock."""
    return [p for p in r.evals if p["seconds"] <= seconds + 1e-9][-1]


def plateau_exit(r: Racer, bigram: float) -> dict | None:
    from maskbench.inspect.plateau import plateau_exit as first_past

    return first_past(r.evals, bigram)


def reaches(r: Racer, loss: float) -> dict | None:
    return next((p for p in r.evals if p["val_loss"] <= loss), None)


def report(args, racers: list[Racer], base: dict, target: float, say=print) -> dict:
    by = {r.name: r for r in racers}
    say(f"\ncount baselines on the same {base['labels']} validation labels: unigram {100 * base['unigram']:.1f}%, "
        f"left-neighbour bigram {100 * base['bigram_left']:.1f}%, right-neighbour {100 * base['bigram_right']:.1f}%, "
        f"both neighbours {100 * base['both_neighbours']:.1f}%")
    say(f"\n{'model':52s} {'params':>9s} {'s/step':>7s} {'at step ' + str(args.steps):>17s} "
        f"{'at ' + format(target, '.0f') + ' s':>24s} {'leaves the plateau':>22s}")
    rows = {}
    for r in racers:
        s, e, x = at_step(r, args.steps), at_seconds(r, target), plateau_exit(r, base["bigram"])
        per_step = r.evals[-1]["seconds"] / max(1, r.evals[-1]["step"])
        left = f"step {x['step']}, {x['seconds']:.0f} s" if x else "not within the race"
        say(f"{LABELS[r.name]:52s} {r.params:>9,d} {per_step:>7.3f} "
            f"{100 * s['masked_acc']:6.1f}% / {s['val_loss']:.2f} "
            f"{100 * e['masked_acc']:8.1f}% / {e['val_loss']:.2f} (step {e['step']}) {left:>22s}")
        rows[r.name] = {"label": LABELS[r.name], "params": r.params, "seconds_per_step": round(per_step, 4),
                        "at_step": s, "at_seconds": e, "plateau_exit": x, "evals": r.evals}
    out = {"steps": args.steps, "schedule": args.schedule, "equal_seconds": round(target, 2), "baselines": base,
           "models": rows}
    if "roformer" in by and "maskbench_rope" in by:
        ref = at_step(by["roformer"], args.steps)
        hit = reaches(by["maskbench_rope"], ref["val_loss"])
        ratio = hit["seconds"] / ref["seconds"] if hit else None
        verdict = (f"step {hit['step']}, {hit['seconds']:.1f} s = {ratio:.2f} x RoFormer's {ref['seconds']:.1f} s"
                   if hit else "not within the race")
        say(f"\ngoal: maskbench+rope reaches RoFormer's step-{args.steps} val loss {ref['val_loss']:.3f} at "
            f"{verdict} ({'met' if ratio is not None and ratio <= 0.5 else 'NOT met'}: at most 0.5)")
        out["goal"] = {"roformer_loss": ref["val_loss"], "roformer_seconds": ref["seconds"], "maskbench_rope": hit,
                       "ratio": ratio, "met": ratio is not None and ratio <= 0.5}
    return out


def figure(out: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    styles = {"maskbench": ("tab:blue", "--"), "maskbench_rope": ("tab:blue", "-"), "bert": ("tab:orange", "--"),
              "roformer": ("tab:orange", "-")}
    for name, m in out["models"].items():
        c, ls = styles[name]
        steps = [p["step"] for p in m["evals"]]
        secs = [p["seconds"] for p in m["evals"]]
        axes[0].plot(steps, [p["val_loss"] for p in m["evals"]], color=c, ls=ls, label=m["label"])
        axes[1].plot(secs, [p["val_loss"] for p in m["evals"]], color=c, ls=ls, label=m["label"])
        axes[2].plot(secs, [100 * p["masked_acc"] for p in m["evals"]], color=c, ls=ls, label=m["label"])
    b = out["baselines"]
    for key, txt in (("unigram", "unigram"), ("bigram", "one-neighbour bigram"), ("both_neighbours", "both neighbours")):
        axes[2].axhline(100 * b[key], color="grey", lw=0.8, ls=":")
        axes[2].text(0, 100 * b[key], f" {txt}", va="bottom", fontsize=8, color="grey")
    axes[1].axvline(out["equal_seconds"], color="grey", lw=0.8, ls=":")
    axes[0].set(xlabel="optimizer step", ylabel="validation MLM loss", title="per step")
    axes[1].set(xlabel="training seconds (2 CPU cores)", ylabel="validation MLM loss", title="per second")
    axes[2].set(xlabel="training seconds (2 CPU cores)", ylabel="masked-token accuracy (%)",
                title="leaving the plateau")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (argparse prints the whole usage block before it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _count(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value
    return parse


def _models(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown models {unknown}: choose from {', '.join(MODELS)}, "
                                         f"separated by commas")
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"{text!r} names a model twice: each races once")
    return names


def main(argv=None):
    p = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=_count(1), default=600, help="steps every model does (then equal seconds)")
    p.add_argument("--schedule", type=_count(1), default=2000, help="the learning-rate schedule's length in steps")
    p.add_argument("--eval-every", type=_count(1), default=50)
    p.add_argument("--val-blocks", type=_count(0), default=0,
                   help="validation blocks (0: the experiment's data.val_blocks)")
    p.add_argument("--models", type=_models, default=",".join(MODELS))
    p.add_argument("--experiment", default="reviews_pretrain")
    p.add_argument("--override", action="append", default=[], help="a further config override (repeatable)")
    p.add_argument("--maskbench-override", action="append", default=[],
                   help="an override for maskbench's recipes only (e.g. train.lr=4e-3; not the data)")
    p.add_argument("--hf-override", action="append", default=[], help="an override for transformers' models only")
    p.add_argument("--threads", type=_count(1), default=2)
    p.add_argument("--out", type=Path, default=None, help="folder for race.json and race.png")
    args = p.parse_args(argv)
    from maskbench.guard import script

    # a refused override, an unwritable --out: one line, exit 2 (a bug: the internal-error line), as maskbench's
    # commands end; --out is made before the race, not after its minutes
    return script(lambda: _race(p, args))


def _race(p, args):
    torch.set_num_threads(args.threads)
    names = args.models
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            p.error(f"--out {args.out} is a file: give a folder for race.json and race.png")
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            p.error(f"--out {args.out} cannot be made ({exc.strerror or exc}): give a folder you can write to")
    from maskbench.config import load_config
    from maskbench.inspect.plateau import count_baselines
    # every config composed and checked before the corpus is read: a bad override is refused at once
    common = [f"experiment={args.experiment}", f"train.max_steps={args.schedule}", *args.override]
    shared = load_config(common)
    own = {side: load_config(common + extra) for side, extra in (("maskbench", args.maskbench_override),
                                                                 ("hf", args.hf_override))}
    for side, c in own.items():  # the recipe may differ per side; the data and the batches may not
        if c.data != shared.data or c.corruption != shared.corruption or c.train.batch_size != shared.train.batch_size:
            p.error(f"--{side}-override changes the data, corruption or batch size: the race needs the same batches")
    cfg, vocab, train, batches, val = setup(args)
    base = count_baselines(torch.from_numpy(train.tokens[:train.n_blocks * train.content_len].astype("int64")),
                           val, vocab)
    def maker(n):
        if n.startswith("maskbench"):
            return lambda: maskbench_racer(n, own["maskbench"], vocab, "rope" if n == "maskbench_rope" else "learned")
        return lambda: hf_racer(n, own["hf"], vocab)
    first = [batches.batch(s)[0].drop_diagnostics() for s in range(5)]
    for n in names:
        warm_up(maker(n), lambda s: first[s])
    racers = [maker(n)() for n in names]
    print(f"{args.experiment}: {cfg.model.n_layers} x {cfg.model.d_model}, batch {cfg.train.batch_size}, lr "
          f"{own['maskbench'].train.lr} (maskbench) / {own['hf'].train.lr} (transformers), schedule {args.schedule} steps, vocabulary {vocab.size}, {len(val)} validation batches, "
          f"torch {torch.__version__}, {args.threads} threads")
    target = race(args, batches, val, racers)
    out = report(args, racers, base, target)
    if args.out:
        (args.out / "race.json").write_text(json.dumps(out, indent=1))
        figure(out, args.out / "race.png")
        print(f"wrote {args.out / 'race.json'} and {args.out / 'race.png'}")
    return out


if __name__ == "__main__":
    main()
