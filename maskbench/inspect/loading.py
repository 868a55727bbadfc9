"""Load a model + tokenizer from a run folder or checkpoint folder (or the same model untrained)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from maskbench.data.tokenizer import Vocab, load_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.models import build_model
from maskbench.train.checkpoint import latest_checkpoint, load_weights


@dataclass
class Loaded:
    model: torch.nn.Module
    tok: object
    vocab: Vocab
    cfg: object
    source: Path


def load_checkpoint(path, scratch: bool = False, seed: int = 0) -> Loaded:
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise MaskbenchError(f"{path} does not exist: give a run folder or a checkpoints/<name>/ folder")
    ckpt = path if (path / "model.safetensors").exists() else latest_checkpoint(path)
    if ckpt is None or not (ckpt / "config.yaml").exists():
        raise MaskbenchError(f"{path} is not a maskbench run or checkpoint: point at a folder written by "
                             f"`maskbench pretrain`")
    cfg = OmegaConf.load(ckpt / "config.yaml")
    if "arch" not in cfg:
        raise MaskbenchError(f"{ckpt} is not a pretraining checkpoint: use one from `maskbench pretrain`")
    tok = load_tokenizer(ckpt / "tokenizer.json")
    vocab = Vocab.from_tokenizer(tok)
    torch.manual_seed(seed)
    model = build_model(cfg.model, cfg.arch.name, vocab.size)
    if not scratch:
        load_weights(model, ckpt)
    model.eval()
    return Loaded(model, tok, vocab, cfg, ckpt)


def encode_with_masks(tok, text: str) -> list[int]:
    """Encode user text in which a literal "[MASK]" means the mask token (corpus text never does)."""
    tok.encode_special_tokens = False
    try:
        return tok.encode(text, add_special_tokens=False).ids
    finally:
        tok.encode_special_tokens = True
