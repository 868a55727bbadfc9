"""`maskbench fill`: what a pretrained model puts in the blanks.

Encoder: the top-k tokens at each [MASK]. Encoder-decoder: the generated reconstruction of the whole
text (greedy or beam search), with the parts that were not in the input highlighted."""

from __future__ import annotations

import difflib

import torch

from maskbench.batch import Batch
from maskbench.errors import MaskbenchError
from maskbench.inspect.loading import Loaded, encode_with_masks
from maskbench.arch import arch_of


def _check_fits(m: Loaded, ids: list[int]) -> None:
    """The text plus its two framing tokens must fit the model's positions."""
    if len(ids) + 2 > m.model.shape.max_positions:
        raise MaskbenchError(f"the text is {len(ids)} tokens, more than the model's {m.model.shape.max_positions - 2}: "
                             f"shorten it")


@torch.no_grad()
def fill_encoder(m: Loaded, text: str, top_k: int = 5) -> list[list[tuple[str, int, float]]]:
    """Per blank: the top-k (token, id, probability). Probabilities are the model's own over the whole
    vocabulary (what transformers' fill-mask pipeline reports); special tokens are never proposed."""
    ids = encode_with_masks(m.tok, text, m.vocab)
    if m.vocab.mask not in ids:
        raise MaskbenchError('the text has no [MASK]: write e.g. "the capital of france is [MASK] ."')
    _check_fits(m, ids)
    x = torch.tensor([[m.vocab.cls] + ids + [m.vocab.sep]])
    hidden = m.model(Batch(input_ids=x, labels=x))
    where = (x[0] == m.vocab.mask).nonzero().squeeze(1)
    probs = m.model.lm_head(hidden[0, where]).float().softmax(-1)
    probs[:, list(m.vocab.special_ids)] = -1.0  # never propose a special token
    top = probs.topk(min(top_k, m.vocab.size - m.vocab.n_special), dim=-1)
    return [[(m.tok.id_to_token(int(i)), int(i), float(p)) for p, i in zip(ps, ix)]
            for ps, ix in zip(top.values, top.indices)]


# Beam search runs the decoder once per beam and token, in Python: --beam 100000 was a topk past the vocabulary
# (the internal-error line) or, below it, hours of decoding for one sentence.
MAX_BEAM = 16  # BART's summaries used 4 to 6


@torch.no_grad()
def generate(m: Loaded, ids: list[int], beam: int = 1, max_extra: int = 32) -> list[int]:
    """Decode a reconstruction of `ids` from an encoder-decoder (greedy when beam == 1)."""
    v = m.vocab
    _check_fits(m, ids)
    src = torch.tensor([[v.bos] + ids + [v.eos]])
    batch = Batch(input_ids=src, labels=src)
    memory = m.model.encode(batch)
    limit = min(len(ids) + max_extra, m.model.decoder.max_positions - 1)
    beams = [([v.bos], 0.0)]
    for _ in range(limit):
        candidates = []
        for seq, score in beams:
            if seq[-1] == v.eos and len(seq) > 1:
                candidates.append((seq, score))
                continue
            dec = Batch(input_ids=src, labels=src, decoder_input_ids=torch.tensor([seq]))
            h = m.model(dec, memory=memory)[0, -1]
            logp = m.model.lm_head(h[None]).float().log_softmax(-1)[0]
            logp[[v.pad, v.mask, v.cls, v.bos]] = float("-inf")
            top = logp.topk(beam)
            candidates += [(seq + [int(i)], score + float(p)) for p, i in zip(top.values, top.indices)]
        beams = sorted(candidates, key=lambda c: c[1] / len(c[0]), reverse=True)[:beam]
        if all(s[-1] == v.eos for s, _ in beams):
            break
    out = beams[0][0][1:]
    return out[:-1] if out and out[-1] == v.eos else out


def infilled_spans(source: list[int], output: list[int], mask_id: int) -> list[bool]:
    """For each output token: True where it is new (not copied from the unmasked input)."""
    kept = [t for t in source if t != mask_id]
    matcher = difflib.SequenceMatcher(a=kept, b=output, autojunk=False)
    new = [True] * len(output)
    for block in matcher.get_matching_blocks():
        for j in range(block.b, block.b + block.size):
            new[j] = False
    return new


def _pieces(tok, ids: list[int]) -> list[str]:
    """Display text of each id, spaces included, for WordPiece ("##") and byte-level BPE alike."""
    out = []
    for n, tid in enumerate(ids):
        piece = tok.id_to_token(tid) or "?"
        if piece.startswith("##"):
            out.append(piece[2:])
        elif piece.startswith("Ġ"):  # byte-level BPE's space marker
            out.append(" " + tok.decode([tid]).lstrip())
        else:
            out.append((" " if n else "") + (tok.decode([tid]) or piece))
    return out


def run_fill(path, text: str, top_k: int, beam: int, console, as_json: bool = False) -> None:
    import json
    import math

    from rich.table import Table
    from rich.text import Text

    from maskbench.inspect.loading import load_checkpoint

    if top_k < 1:
        raise MaskbenchError(f"--top-k {top_k}: give 1 or more")
    if not 1 <= beam <= MAX_BEAM:
        raise MaskbenchError(f"--beam {beam}: give 1 (greedy) to {MAX_BEAM} (each beam runs the decoder once per "
                             f"token)")
    m = load_checkpoint(path, what="fill")
    if beam > m.vocab.size:
        raise MaskbenchError(f"--beam {beam}: give at most the vocabulary's {m.vocab.size} tokens")
    if arch_of(m.cfg.arch).encoder_only:
        results = fill_encoder(m, text, top_k)
        if as_json:
            print(json.dumps({"text": text, "arch": "encoder", "blanks": [
                [{"token": t, "id": i, "prob": round(p, 6) if math.isfinite(p) else None} for t, i, p in row]
                for row in results]}, ensure_ascii=False, allow_nan=False))  # JSON has no NaN: a non-finite prob is null
            return
        table = Table(title=f"fill-in-the-blank: {text}")
        table.add_column("#")
        for k in range(len(results[0])):
            table.add_column(f"top {k + 1}")
        for i, row in enumerate(results, 1):
            table.add_row(f"[MASK] {i}", *[f"{tok} ({p:.2f})" for tok, _, p in row])
        console.print(table)
        return
    ids = encode_with_masks(m.tok, text, m.vocab)
    out = generate(m, ids, beam=beam)
    if as_json:
        print(json.dumps({"text": text, "arch": "encoder_decoder", "decoding": "greedy" if beam == 1 else f"beam {beam}",
                          "ids": out, "generated": m.tok.decode(out)}, ensure_ascii=False))
        return
    new = infilled_spans(ids, out, m.vocab.mask)
    rendered = Text()
    for piece, is_new in zip(_pieces(m.tok, out), new):
        rendered.append(piece, style="bold black on yellow" if is_new else None)
    console.print(Text("input  ", style="bold") + Text(text))
    console.print(Text("output ", style="bold") + rendered)
    console.print(f"[dim]{'greedy' if beam == 1 else f'beam {beam}'} decoding; highlighted = not copied from "
                  f"the input[/]")
