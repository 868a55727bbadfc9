"""The models a zero-shot score reads: a run's pretrained model (for an objective with a model of its own, the part
trained to predict tokens that its schema names as fill_model, said beside the scores) and the same model with random
weights (a seeded initialisation of the same config: the floor beside every number)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from maskbench.arch import Arch, arch_of
from maskbench.errors import MaskbenchError
from maskbench.runs.source import ModelSource
from maskbench.zeroshot.inputs import Inputs, inputs_for


@dataclass
class ZeroShotModel:
    model: torch.nn.Module
    tok: object
    vocab: object
    arch: Arch
    inputs: Inputs
    objective: str
    predictor: str | None  # what predicts the tokens where it is not the model's own head (its objective's
    #                        fill_model, in words), else None
    weights: str           # "pretrained" | "random"

    @property
    def max_tokens(self) -> int:
        """The longest sentence (text tokens) the model reads with its framing."""
        return self.model.shape.max_positions - 2 - len(self.inputs.prefix)


def open_source(path, what: str = "score") -> ModelSource:
    """A pretraining run or checkpoint folder, or a transformers model folder with an LM head."""
    from maskbench.runs.layout import TASK_RECORD
    from maskbench.runs.source import resolve_source

    src = resolve_source(path, what=what)
    if src.origin == "maskbench" and (src.files / TASK_RECORD).exists():
        raise MaskbenchError(f"{what}: {path} is a fine-tuned task model, whose LM head is not kept: give the "
                             f"pretraining run it started from")
    return src


def corruption_of(src: ModelSource):
    """The typed corruption config a maskbench run was pretrained with, or None (a transformers folder)."""
    from omegaconf import OmegaConf

    from maskbench.config.typed import typed_group

    path = src.files / "config.yaml"
    if src.origin != "maskbench" or not path.exists():
        return None
    group = OmegaConf.load(path).get("corruption")
    return typed_group("corruption", group) if group is not None else None


def load_model(src: ModelSource, method: str, random: bool = False, seed: int = 0) -> ZeroShotModel:
    """The run's model (`random`: the same config freshly initialised from `seed`), in eval mode."""
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.models.build import build_model

    tok = load_tokenizer(src.tokenizer_path)
    vocab = Vocab.from_tokenizer(tok)
    corruption = corruption_of(src)
    arch = arch_of(src.arch)
    inputs = inputs_for(arch, corruption, src.objective, vocab, method)
    torch.manual_seed(seed)
    model = src.fill_model(corruption, vocab.size, trained=not random, what="score")
    predictor = None if model is None else corruption.fill_model_name or f"{corruption.name}'s {corruption.fill_model}"
    if model is None:
        model = build_model(src.model_cfg, src.arch, vocab.size)
        if not random:
            src.load_into(model)
            if "lm_head" in getattr(model, "untrained_heads", ()):
                raise MaskbenchError(f"{src.source} has no trained LM head (the folder lacks its weights): its scores "
                                     f"would come from random weights; use a folder with its MLM head (e.g. "
                                     f"BertForMaskedLM)")
    model.eval()
    return ZeroShotModel(model, tok, vocab, arch, inputs, src.objective, predictor,
                         "random" if random else "pretrained")


def checkpoint_label(src: ModelSource) -> tuple[str, int | None]:
    """(the checkpoint's folder name, its step) of a maskbench source; (folder, None) for a transformers folder."""
    from maskbench.runs.layout import checkpoint_step, is_checkpoint

    if src.origin == "maskbench" and is_checkpoint(src.files):
        return Path(src.source).name, checkpoint_step(src.files)
    return Path(src.source).name, None
