"""Two clean architectures: a BERT-like encoder and a BART-like encoder-decoder. Logits only, no loss."""

from maskbench.models.build import build_model, count_params

__all__ = ["build_model", "count_params"]
