"""Load a model + tokenizer from a run folder, checkpoint folder or transformers model folder (or the
same model untrained)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from maskbench.errors import MaskbenchError
from maskbench.data.tokenizer import Vocab, load_tokenizer
from maskbench.models import build_model
from maskbench.runs.source import resolve_source


@dataclass
class Loaded:
    model: torch.nn.Module
    tok: object
    vocab: Vocab
    cfg: object      # {"model": ..., "arch": {"name": ...}}
    source: Path


def load_checkpoint(path, scratch: bool = False, seed: int = 0, what: str = "checkpoint") -> Loaded:
    src = resolve_source(path, what=what)
    tok = load_tokenizer(src.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    torch.manual_seed(seed)
    model = build_model(src.model_cfg, src.arch, vocab.size)
    filler = src.fill_model(src.own_model_corruption(), vocab.size, trained=not scratch) if what == "fill" else None
    if filler is not None:  # e.g. an ELECTRA run fills blanks with its generator, the part trained to
        model, scratch = filler, True
    if not scratch:
        src.load_into(model)
        if "lm_head" in getattr(model, "untrained_heads", ()) and what in ("fill",):
            raise MaskbenchError(f"{src.source} has no trained MLM head (the folder lacks its weights): fill would "
                                 f"predict from random weights; use a folder with its MLM head (e.g. BertForMaskedLM)")
    model.eval()
    cfg = OmegaConf.create({"model": src.model_dict(), "arch": {"name": src.arch}})
    return Loaded(model, tok, vocab, cfg, Path(src.source))


def encode_with_masks(tok, text: str, vocab: Vocab | None = None) -> list[int]:
    """Encode user text in which a literal "[MASK]" (or the vocabulary's own mask token, e.g. "<mask>")
    means the mask token (corpus text never does)."""
    if vocab is not None:
        text = text.replace("[MASK]", tok.id_to_token(vocab.mask))
    tok.encode_special_tokens = False
    try:
        return tok.encode(text, add_special_tokens=False).ids
    finally:
        tok.encode_special_tokens = True
