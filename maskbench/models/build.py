"""Model registry: architecture name -> class."""

from __future__ import annotations

from maskbench.models.encoder import EncoderModel
from maskbench.models.encoder_decoder import EncoderDecoderModel

ARCHS = {"encoder": EncoderModel, "encoder_decoder": EncoderDecoderModel}


def build_model(model_cfg, arch: str, vocab_size: int):
    return ARCHS[arch](model_cfg, vocab_size)


def count_params(model, trainable_only: bool = True) -> int:
    """Unique parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
