"""Two clean architectures: a BERT-like encoder and a BART-like encoder-decoder; they return states and logits, and the
heads and loss terms (maskbench/train/losses.py, models/heads.py) compute the losses."""

from maskbench.models.build import build_model, count_params

__all__ = ["build_model", "count_params"]
