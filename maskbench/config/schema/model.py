"""Schema of the `arch` and `model` groups: the Transformer's shape and its variant switches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from maskbench.arch import ARCHS, ENCODER, arch_of
from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import option

NORMS = ("pre", "post")                       # LayerNorm before each sub-layer (maskbench) or after (BERT, BART)
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")
# How attention knows where a token is: BERT's learned absolute table, or rotary angles on queries and keys
# (RoFormer, Su et al. 2021; ModernBERT, NeoBERT, GPT-BERT). maskbench/models/rotary.py.
POSITIONS = ("learned", "rope")



@dataclass(frozen=True)
class ArchConfig:
    name: str = option(ENCODER.name, choices=tuple(ARCHS))


@dataclass(frozen=True)
class ModelConfig:
    name: str = "custom"
    d_model: int = option(256, low=1)
    n_layers: int = option(4, low=1)
    n_heads: int = option(4, low=1)
    d_ff: int = option(1024, low=1)
    n_decoder_layers: Optional[int] = option(None, low=1, hint="null = model.n_layers")
    dropout: float = option(0.0, prob=True)
    max_positions: int = option(512, low=1)
    # null = the architecture's standard: BERT's transform on the encoder, BART's bare projection.
    mlm_transform: Optional[bool] = None
    tie_embeddings: bool = True
    norm: str = option("pre", choices=NORMS)
    embed_norm: bool = False
    pos_offset: int = option(0, low=0)
    n_segments: int = option(2, low=0)
    ln_eps: float = option(1e-5, above=0.0, below=1.0, hint="e.g. 1e-5")
    activation: str = option("gelu", choices=ACTIVATIONS)
    scale_embedding: bool = False
    # learned: a position table added to the embeddings (BERT, BART: what every config before this key had);
    # rope: rotary angles in each self-attention (no table; cross-attention gets none, as in T5Gemma).
    positions: str = option("learned", choices=POSITIONS)
    rope_theta: float = option(10000.0, above=1.0, hint="RoFormer's and ESM's base: 10000")

    def lm_transform(self, arch) -> bool:
        """BERT's dense+activation+LayerNorm before the vocabulary projection? null = the architecture's
        standard: yes for the encoder (BertForMaskedLM's head, so fill-mask survives export), no for the
        encoder-decoder (BART's bare projection)."""
        if self.mlm_transform is None:
            return arch_of(arch).encoder_only
        return bool(self.mlm_transform)

    @property
    def decoder_layers(self) -> int:
        return int(self.n_decoder_layers or self.n_layers)

    @property
    def rotary(self) -> bool:
        return self.positions == "rope"

    def check(self) -> None:
        if self.d_model % self.n_heads:
            raise MaskbenchError(f"model.d_model={self.d_model} is not divisible by model.n_heads={self.n_heads}")
        if self.rotary and (self.d_model // self.n_heads) % 2:
            raise MaskbenchError(f"model.positions=rope rotates pairs of dimensions, but a head is "
                                 f"{self.d_model // self.n_heads} wide (model.d_model / model.n_heads): make it even")
        if self.rotary and self.pos_offset:
            raise MaskbenchError(f"model.pos_offset={self.pos_offset} shifts a learned position table, which "
                                 f"model.positions=rope does not have: set model.pos_offset=0")
