"""What ELECTRA does to a sentence beyond its masking: the generator's samples put in (replaced tokens), and the
discriminator's probability that each token was replaced, for `maskbench corrupt corruption=electra`
(`--model RUN`: a pretrained ELECTRA run; default: a freshly initialised pair, seeded by --seed)."""

from __future__ import annotations

import torch

from maskbench.batch import IGNORE
from maskbench.errors import MaskbenchError
from maskbench.config.schema import PretrainConfig


def electra_pair(cfg: PretrainConfig, vocab, model_path=None, seed: int = 0):
    """The ElectraPretrainModel whose generator samples and whose discriminator scores, in eval mode."""
    from maskbench.corruption.registry import build_pretraining_model

    if model_path is None:
        torch.manual_seed(seed)
        model = build_pretraining_model(cfg.model, "encoder", vocab.size, cfg.corruption)
    else:
        from maskbench.runs.source import resolve_source

        src = resolve_source(model_path, what="--model")
        corruption = src.own_model_corruption()
        if corruption is None or type(corruption) is not type(cfg.corruption):
            raise MaskbenchError(f"--model {model_path} is not an ELECTRA run: give a run of corruption=electra")
        if src.tokenizer_path.read_text() != cfg_tokenizer_text(cfg):
            raise MaskbenchError(f"--model {model_path} has another vocabulary than this corpus: use its own data "
                                 f"settings (data.*) with it")
        model = src.pretraining_model(corruption, vocab.size)
    model.forbid_samples(vocab.text_ids())
    return model.eval()


def cfg_tokenizer_text(cfg: PretrainConfig) -> str:
    from maskbench.data.cache import build_cache

    return (build_cache(cfg.data) / "tokenizer.json").read_text()


@torch.no_grad()
def replace(model, out, seed: int = 0):
    """(discriminator input, replaced, selected, p(replaced)) for a corrupted batch."""
    sel = out.labels != IGNORE
    g = torch.Generator().manual_seed(seed)
    disc_ids, replaced = model.replace(out, model.generator_logits(out, sel), sel, generator=g)
    return disc_ids, replaced, sel, model.replaced_probability(disc_ids, out)


def electra_rows(model, out, tok, vocab, seed: int, render, styles: tuple[str, str]) -> list:
    """Rows for the inspector: the discriminator's input (replaced tokens marked, samples equal to the original
    marked as kept) and p(replaced) per token."""
    from rich.text import Text

    disc_ids, replaced, sel, prob = replace(model, out, seed)
    replaced_style, same_style = styles
    marks = [replaced_style if r else same_style if s else None for r, s in zip(replaced[0].tolist(), sel[0].tolist())]
    probs = Text()
    for idx, p in zip(disc_ids[0].tolist(), prob[0].tolist()):
        if idx == vocab.pad:
            continue
        probs.append(f"{tok.id_to_token(idx)} ", style=None)
        probs.append(f"{p:.2f}  ", style="bold red" if p >= 0.5 else "dim")
    n_sel, n_rep = int(sel[0].sum()), int(replaced[0].sum())
    return [("discriminator input", render(disc_ids[0].tolist(), tok, vocab, marks)),
            ("p(replaced)", probs),
            ("", Text(f"{n_rep} of {n_sel} selected tokens replaced (a sample equal to the original counts as "
                      f"original)", style="dim"))]


# The `corrupt` command's view of an objective with a model of its own (schema: model_view names this module).
pair = electra_pair
rows = electra_rows


def measure(model, out, seed: int, acc) -> None:
    """--stats: how many of the generator's samples replace, and how many equal the original."""
    _, replaced, sel, _ = replace(model, out, seed)
    acc.add_replaced(replaced, sel)

