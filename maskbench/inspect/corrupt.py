"""`maskbench corrupt`: what a corruption did to one text (coloured in the terminal), or its measured
statistics over many corpus blocks (`--stats`, `--json`)."""

from __future__ import annotations

import json

import torch
from rich.markup import escape

from maskbench.corruption import build_corruption, corruption_for_tokenizer
from maskbench.corruption.base import KEPT, RANDOM
from maskbench.corruption.keyed_random import example_keys
from maskbench.corruption.registry import noise_class
from maskbench.corruption.stats import StatsAccumulator
from maskbench.data.blocks import Blocks, BlockStore
from maskbench.data.cache import build_cache, load_cache_tokenizer
from maskbench.data.corpus import split_sentences
from maskbench.errors import MaskbenchError
from maskbench.config.schema import PretrainConfig

STYLE_MASK, STYLE_RANDOM, STYLE_KEPT, STYLE_SENTINEL, STYLE_SPECIAL = (
    "bold white on red", "bold black on yellow", "bold black on green", "bold white on magenta", "dim")


def _setup(cfg: PretrainConfig, console):
    cache = build_cache(cfg.data, progress=lambda m: console.print(f"[dim]{escape(m)}[/]"))
    tok = load_cache_tokenizer(cache)
    vocab, corruption = corruption_for_tokenizer(cfg, tok)
    return cache, tok, vocab, corruption


def text_block(text: str, tok) -> Blocks:
    sentences = split_sentences(" ".join(text.split())) or [text]
    encs = tok.encode_batch(sentences, add_special_tokens=False)
    ids, starts = [], []
    for e in encs:
        starts.extend([True] + [False] * (len(e.ids) - 1))
        ids.extend(e.ids)
    if len(ids) < 4:
        raise MaskbenchError("--text is too short to corrupt: give at least a few words")
    t = torch.tensor([ids])
    return Blocks(tokens=t, sent_start=torch.tensor([starts]), doc_id=torch.zeros_like(t))


def _render(ids, tok, vocab, styles=None):
    from rich.text import Text

    out = Text()
    for i, idx in enumerate(ids):
        idx = int(idx)
        if idx == vocab.pad:
            continue
        piece = tok.id_to_token(idx) or "?"
        style = styles[i] if styles is not None else None
        if style is None:
            if idx == vocab.mask:
                style = STYLE_MASK
            elif vocab.sentinel0 <= idx < vocab.sentinel0 + vocab.n_sentinels:
                style = STYLE_SENTINEL
            elif idx in vocab.special_ids and idx != vocab.unk:
                style = STYLE_SPECIAL
        if piece.startswith("##"):
            out.append(piece[2:], style=style)
        else:
            if len(out):
                out.append(" ")
            out.append(piece, style=style)
    return out


def show_one(cfg: PretrainConfig, blocks: Blocks, partner, corruption, tok, vocab, seed, console, step: int | None = None,
             sampler=None):
    from rich.panel import Panel
    from rich.table import Table

    out = corruption(blocks, example_keys(seed, 0, torch.zeros(1, dtype=torch.long)), partner, step=step)
    d = out.diag
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", justify="right")
    grid.add_column()
    # Positions can be marked on the original only when nothing moved (no permutation, rotation, NSP pair).
    moved = d.sentences is not None or d.rotated is not None or out.token_type_ids is not None
    aligned = not moved and int(d.source_len[0]) == d.original.shape[1]
    orig_styles = None
    if not moved:
        mark = "strike dim" if cfg.corruption.selected_leave else "underline"
        orig_styles = [mark if s else None for s in d.selected[0].tolist()]
    grid.add_row("original", _render(d.original[0].tolist(), tok, vocab, orig_styles))
    enc = out.input_ids[0].tolist()
    styles = None
    if aligned:  # same length: colour each position by what happened to it
        acts = d.action[0].tolist()
        styles = [None] + [STYLE_RANDOM if a == RANDOM else STYLE_KEPT if a == KEPT else None for a in acts] + [None]
        styles = [s if s is not None or i >= len(enc) or enc[i] != vocab.mask else STYLE_MASK
                  for i, s in enumerate(styles)]
    grid.add_row("encoder input", _render(enc, tok, vocab, styles))
    if out.decoder_input_ids is not None:
        grid.add_row("decoder input", _render(out.decoder_input_ids[0].tolist(), tok, vocab))
        labels = out.labels[0]
        grid.add_row("decoder target", _render(labels[labels >= 0].tolist(), tok, vocab))
        if out.decoder_positions is not None:
            pos = out.decoder_positions[0]
            grid.add_row("decoder positions", f"{int(pos[0])}..{int(pos[-1])} (the fragment's original positions)")
    else:
        labels = out.labels[0]
        grid.add_row("predicted at", _render(labels[labels >= 0].tolist(), tok, vocab))
    if sampler is not None:  # a model of its own (ELECTRA: the generator's samples, the discriminator's view)
        view, model = sampler
        for label, row in view.rows(model, out, tok, vocab, seed, _render, (STYLE_RANDOM, STYLE_KEPT)):
            grid.add_row(label, row)
    if out.nsp_labels is not None:
        grid.add_row("NSP label", "IsNext" if int(out.nsp_labels[0]) == 0 else "NotNext (B from another document)")
    facts = [f"selected {int(d.selected[0].sum())}/{d.original.shape[1]} tokens"]
    if d.span_lengths is not None:
        lens = d.span_lengths[0][d.span_valid[0]].tolist()
        facts.append(f"spans {lens}")
    if d.sentences is not None:
        facts.append(f"sentences moved {int(d.sentences_moved[0])}/{int(d.sentences[0])}")
    if d.rotated is not None:
        facts.append("rotated" if bool(d.rotated[0]) else "not rotated")
    if d.modes is not None:  # UL2: which denoiser this example drew (its mode token opens the source)
        mode, mu, rate = cfg.corruption.denoisers[int(d.modes[0])]
        facts.append(f"denoiser {mode}" + (f" (prefix LM, rate {rate})" if mode == "S" else f" (mean span {mu}, rate {rate})"))
    grid.add_row("", "[dim]" + "; ".join(facts) + "[/]")
    legend = (f"[{STYLE_MASK}] [MASK] [/] [{STYLE_RANDOM}] random [/] [{STYLE_KEPT}] selected, kept [/] "
              f"[{STYLE_SENTINEL}] sentinel [/] [strike dim]deleted/in span[/] [underline]selected[/]")
    console.print(Panel(grid, title=f"{cfg.corruption.name} on {cfg.arch.name}", subtitle=legend,
                        expand=False))


def run_corrupt(cfg: PretrainConfig, text, stats, n_blocks, as_json, seed, console, step: int | None = None, model=None):
    """`step`: with a masking schedule, corrupt at that step of a run of train.max_steps (default: its end).
    `model`: for an objective with a model of its own (its schema's model_view, e.g. ELECTRA's), the run whose
    model samples (default: a fresh, seeded one)."""
    cache, tok, vocab, corruption = _setup(cfg, console if not as_json else _quiet())
    sampler = None
    if cfg.corruption.model_view:
        import importlib

        view = importlib.import_module(cfg.corruption.model_view)
        sampler = (view, view.pair(cfg, vocab, model, seed))
    elif model is not None:
        raise MaskbenchError(f"--model goes with an objective that samples from a model of its own (e.g. "
                             f"ELECTRA's generator); corruption={cfg.corruption.name} has none")
    corruption.total_steps = cfg.train.max_steps
    if step is not None and not 0 <= step <= cfg.train.max_steps:
        raise MaskbenchError(f"--step {step}: give a step from 0 to train.max_steps={cfg.train.max_steps}")
    store = BlockStore(cache, "train", cfg.data.content_len)
    if stats:
        result = measure(corruption, store, vocab, cfg.corruption.name, n_blocks, seed, step=step, sampler=sampler)
        if corruption.scheduled:
            result["mask_rate"] = round(corruption.rate(step), 6)  # the rate in force: what selected_frac is for
        # the objective's own breakdown (UL2: each denoiser alone), measured through the same code
        result.update(noise_class(cfg.corruption).stats_breakdown(
            cfg.corruption, lambda one, label: measure(build_corruption(one, cfg.arch.name, vocab), store, vocab,
                                                       label, n_blocks, seed), result) or {})
        if as_json:
            print(json.dumps(result))
        else:
            print_stats(result, cfg, console)
        return result
    if text is not None:
        blocks = text_block(text, tok)
        partner_idx = torch.tensor([seed % len(store)])
        partner = store.get(partner_idx)
        L = blocks.tokens.shape[1]
        partner = Blocks(partner.tokens[:, :L], partner.sent_start[:, :L], partner.doc_id[:, :L] + 1) \
            if partner.tokens.shape[1] >= L else None
        if corruption.needs_partner and partner is None:
            raise MaskbenchError(f"--text is longer than a block ({store.content_len} tokens) for NSP: shorten it")
    else:
        blocks = store.get(torch.tensor([seed % len(store)]))
        partner = store.get(torch.tensor([(seed * 7919 + len(store) // 2) % len(store)]))
    show_one(cfg, blocks, partner, corruption, tok, vocab, seed, console, step, sampler)


def _quiet():
    from rich.console import Console

    return Console(quiet=True)


def measure(corruption, store: BlockStore, vocab, name: str, n_blocks: int, seed: int = 0, batch: int = 500,
            step: int | None = None, sampler=None):
    acc = StatsAccumulator(name, vocab)
    n = min(n_blocks, len(store)) if n_blocks > 0 else len(store)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(store), generator=g)[:n]
    for i in range(0, n, batch):
        idx = order[i:i + batch]
        blocks = store.get(idx)
        keys = example_keys(seed, 0, idx)
        partner = None
        if corruption.needs_partner:
            partner = store.get(order[(torch.arange(i, i + len(idx)) * 7919 + 1) % len(order)])
        out = corruption(blocks, keys, partner, step=step)
        acc.update(out, blocks.tokens)
        if sampler is not None:  # what the objective's own model does to the batch (ELECTRA: its samples)
            view, model = sampler
            view.measure(model, out, seed + i, acc)
    return acc.result()


def print_stats(result: dict, cfg: PretrainConfig, console) -> None:
    from rich.table import Table

    expected = cfg.corruption.configured_stats()
    if "mask_rate" in result:  # a scheduled rate: what the config promises at the rate in force at the step shown
        from maskbench.corruption.schedule import with_rate

        expected["selected_frac"] = with_rate(cfg.corruption, result["mask_rate"]).configured_stats()["selected_frac"]
    table = Table(title=f"{result['corruption']}: {result['blocks']:,} blocks, {result['tokens']:,} tokens")
    table.add_column("measure")
    table.add_column("measured", justify="right")
    table.add_column("configured", justify="right", style="dim")
    for key, value in result.items():
        if key in ("corruption", "blocks", "tokens", "span_len_hist", "per_denoiser", "denoiser_shares") or value is None:
            continue
        exp = expected.get(key)
        table.add_row(key, f"{value:g}" if isinstance(value, float) else str(value),
                      "" if exp is None else f"{exp:g}")
    console.print(table)
    for d in result.get("per_denoiser") or []:
        console.print(f"  denoiser {d['denoiser']}: drawn {d['share']} (weight {d['weight_share']}), "
                      f"selected {d['selected_frac']}, spans/block {d['span_count_mean']}, "
                      f"span length {d['span_len_mean']}, target/original {d['target_len_ratio']}, "
                      f"specials touched {d['specials_touched']}")
    hist = result.get("span_len_hist")
    if hist:
        total = sum(hist.values())
        console.print("span length histogram:")
        for length, count in list(hist.items())[:16]:
            bar = "█" * max(1, round(40 * count / total)) if count else ""
            console.print(f"  {length:>3} {bar} {count / total:.3f}")
