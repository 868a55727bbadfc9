"""`maskbench probe`: one word's contextual embeddings across sentences.

The same word gets different vectors in different contexts; a pretrained encoder should place
sentences of the same sense closer together than sentences of different senses. The baseline is the
context-free input embedding, which is the same vector in every sentence (similarity 1 everywhere).
For an encoder-decoder, the encoder's states are probed."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from maskbench.batch import Batch
from maskbench.errors import MaskbenchError
from maskbench.inspect.loading import Loaded
from maskbench.arch import arch_of

DEFAULT_SENTENCES = Path(__file__).parent.parent / "assets" / "probe_apple.txt"


def read_sentences(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise MaskbenchError(f"--file {path} does not exist: give SENSE<TAB>SENTENCE lines")
    from maskbench.tasks.common import read_lines

    rows = []
    # read_lines: a byte-order mark, CRLF or CR endings read as if absent, a NUL byte or non-UTF-8 one line, and only
    # line breaks end a line (str.splitlines would also cut a sentence at a form feed or U+2028)
    for i, line in enumerate(read_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise MaskbenchError(f"{path} line {i}: expected SENSE<TAB>SENTENCE")
        sense, sentence = line.split("\t", 1)
        rows.append((sense.strip(), sentence.strip()))
    if len({s for s, _ in rows}) < 2:
        raise MaskbenchError(f"{path}: give sentences of at least two senses (SENSE<TAB>SENTENCE)")
    return rows


@torch.no_grad()
def word_vectors(m: Loaded, sentences: list[str], word: str) -> torch.Tensor:
    """Mean of the word's sub-word states in each sentence (last layer): [N, D]."""
    target = m.tok.encode(word, add_special_tokens=False).ids
    first, last = arch_of(m.cfg.arch).frame(m.vocab)
    vecs = []
    for s in sentences:
        ids = m.tok.encode(s, add_special_tokens=False).ids
        at = next((i for i in range(len(ids)) if ids[i:i + len(target)] == target), None)
        if at is None:
            raise MaskbenchError(f'"{word}" does not occur in: {s}')
        x = torch.tensor([[first] + ids + [last]])
        batch = Batch(input_ids=x, labels=x)
        h = m.model.encode(batch) if arch_of(m.cfg.arch).has_decoder else m.model(batch)
        vecs.append(h[0, 1 + at:1 + at + len(target)].mean(0))
    return torch.stack(vecs)


def cosine_matrix(v: torch.Tensor) -> torch.Tensor:
    v = torch.nn.functional.normalize(v.float(), dim=-1)
    return v @ v.t()


def sense_summary(sim: torch.Tensor, senses: list[str]) -> dict:
    n = len(senses)
    same = torch.tensor([[senses[i] == senses[j] for j in range(n)] for i in range(n)])
    off = ~torch.eye(n, dtype=torch.bool)
    within = float(sim[same & off].mean())
    across = float(sim[~same].mean())
    return {"within_sense": round(within, 4), "across_sense": round(across, 4), "gap": round(within - across, 4)}


def plot_heatmap(sim, labels, senses, out: Path, title: str) -> Path:
    from maskbench.report.figures import pyplot, write_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(9, 7.5), dpi=120)
    im = ax.imshow(sim.numpy(), cmap="viridis", vmin=float(sim.min()), vmax=1.0)
    short = [f"[{s}] {t[:38]}" for s, t in zip(senses, labels)]
    ax.set_xticks(range(len(labels)), short, rotation=75, fontsize=7, ha="right")
    ax.set_yticks(range(len(labels)), short, fontsize=7)
    fig.colorbar(im, ax=ax, label="cosine similarity")
    ax.set_title(title, fontsize=10)
    return write_figure(fig, out)


def run_probe(path, word: str, file: Path | None, out: Path | None, scratch: bool, console, as_json: bool = False):
    from rich.table import Table

    from maskbench.inspect.loading import load_checkpoint

    m = load_checkpoint(path, scratch=scratch, what="probe")
    rows = read_sentences(Path(file) if file else DEFAULT_SENTENCES)
    senses = [s for s, _ in rows]
    sentences = [t for _, t in rows]
    sim = cosine_matrix(word_vectors(m, sentences, word))
    result = {"word": word, "checkpoint": str(m.source), "weights": "random (scratch)" if scratch else "pretrained",
              **sense_summary(sim, senses),
              "input_embedding_baseline": {"within_sense": 1.0, "across_sense": 1.0, "gap": 0.0}}
    label = "scratch" if scratch else "pretrained"
    png = out or Path(f"probe-{word}-{label}.png")
    plot_heatmap(sim, sentences, senses, png,
                 f'"{word}" in context ({label}, {m.cfg.arch.name}): within-sense {result["within_sense"]:.3f}, '
                 f'across {result["across_sense"]:.3f}')
    result["png"] = str(png)
    if as_json:
        print(json.dumps(result))
        return result
    table = Table(title=f'"{word}": cosine similarity of contextual vectors ({label} {m.cfg.arch.name})')
    table.add_column("")
    table.add_column("within sense", justify="right")
    table.add_column("across senses", justify="right")
    table.add_column("gap", justify="right")
    table.add_row("contextual (last layer)", f"{result['within_sense']:.3f}", f"{result['across_sense']:.3f}",
                  f"{result['gap']:+.3f}")
    table.add_row("input embedding (no context)", "1.000", "1.000", "+0.000")
    console.print(table)
    console.print(f"heatmap: {png}", markup=False)
    return result
