"""The model of each architecture (maskbench/arch.py names them): arch -> class."""

from __future__ import annotations

from maskbench.arch import ENCODER, ENCODER_DECODER, arch_of
from maskbench.models.encoder import EncoderModel
from maskbench.models.encoder_decoder import EncoderDecoderModel

MODEL_CLASSES = {ENCODER: EncoderModel, ENCODER_DECODER: EncoderDecoderModel}


def build_model(model_cfg, arch, vocab_size: int):
    return MODEL_CLASSES[arch_of(arch)](model_cfg, vocab_size)


def count_params(model, trainable_only: bool = True) -> int:
    """Unique parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
