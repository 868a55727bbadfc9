"""The shape of a model, read once from its config: sizes plus the variant switches that let one code
base build maskbench's own pre-LN models and the public families it imports (BERT, RoBERTa, BART).

| switch | maskbench default | BERT | RoBERTa | BART |
|---|---|---|---|---|
| norm | pre (final LayerNorm) | post | post | post |
| embed_norm | false | true | true | true (both sides) |
| pos_offset | 0 | 0 | 2 | 2 |
| n_segments | 2 | 2 | 1 | 0 |
| ln_eps | 1e-5 | 1e-12 | 1e-5 | 1e-5 |
| activation | gelu (exact) | gelu | gelu | gelu |

Configs written before these switches existed lack them and get the defaults; such a model also added
no segment embedding when it was given no segment ids (`legacy_segments`), which is kept so that old
checkpoints compute exactly what they computed when they were trained.
"""

from __future__ import annotations

from dataclasses import dataclass



@dataclass(frozen=True)
class ModelShape:
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    n_decoder_layers: int | None
    dropout: float
    max_positions: int
    mlm_transform: bool | None
    tie_embeddings: bool
    norm: str = "pre"
    embed_norm: bool = False
    pos_offset: int = 0
    n_segments: int = 2
    ln_eps: float = 1e-5
    activation: str = "gelu"
    scale_embedding: bool = False
    legacy_segments: bool = False

    @classmethod
    def from_cfg(cls, m) -> "ModelShape":
        get = m.get if hasattr(m, "get") else (lambda k, d=None: getattr(m, k, d))
        return cls(
            d_model=int(m.d_model), n_layers=int(m.n_layers), n_heads=int(m.n_heads), d_ff=int(m.d_ff),
            n_decoder_layers=get("n_decoder_layers"), dropout=float(get("dropout", 0.0) or 0.0),
            max_positions=int(m.max_positions), mlm_transform=get("mlm_transform"),
            tie_embeddings=bool(get("tie_embeddings", True)), norm=str(get("norm", "pre")),
            embed_norm=bool(get("embed_norm", False)), pos_offset=int(get("pos_offset", 0)),
            n_segments=int(get("n_segments", 2)), ln_eps=float(get("ln_eps", 1e-5)),
            activation=str(get("activation", "gelu")), scale_embedding=bool(get("scale_embedding", False)),
            legacy_segments=get("norm") is None)

    def lm_transform(self, arch: str) -> bool:
        """BERT's dense+activation+LayerNorm before the vocabulary projection? null = the architecture's
        standard: yes for the encoder (BertForMaskedLM's head, so fill-mask survives export), no for the
        encoder-decoder (BART's bare projection)."""
        if self.mlm_transform is None:
            return arch == "encoder"
        return bool(self.mlm_transform)

    @property
    def decoder_layers(self) -> int:
        return int(self.n_decoder_layers or self.n_layers)
