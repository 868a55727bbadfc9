"""Model FLOPs of a training step, counted from the matmuls the model runs (the formula the budgets,
the report and the benchmark share).

Forward FLOPs per token per layer: 2*d*(3d + d) for the attention projections, 2*d*2*d_ff for the
feed-forward, 4*S*d for attention scores and weighted values over S keys. A decoder layer adds
cross-attention: 2*d*2d per target token (query and output projections), 4*S_src*d for its scores,
and 2*d*2d per source token for the memory's keys and values. The vocabulary projection costs 2*d*V
per position where it is computed (labelled positions only in maskbench). A training step costs
3 x forward (backward ~ 2 x forward).
"""

from __future__ import annotations


def step_flops(d: int, d_ff: int, n_layers: int, n_dec_layers: int, vocab: int, batch: int, src_len: float,
               tgt_len: float = 0.0, head_positions: float = 0.0, transform: bool = False) -> float:
    layer = 2 * d * (4 * d + 2 * d_ff)
    fwd = batch * src_len * n_layers * (layer + 4 * src_len * d)
    if tgt_len:
        fwd += batch * tgt_len * n_dec_layers * (layer + 4 * d * d + 4 * tgt_len * d + 4 * src_len * d)
        fwd += batch * src_len * n_dec_layers * 4 * d * d
    fwd += head_positions * 2 * d * vocab + (head_positions * 2 * d * d if transform else 0)
    return 3.0 * fwd


def standard_batch_flops(model_cfg, arch: str, vocab: int, batch) -> float:
    """FLOPs of one training step of the architecture's model on this (corrupted) batch: the default of an
    objective's `step_flops` (corruption/base.py: Noise)."""
    from maskbench.arch import arch_of
    from maskbench.models.shape import ModelShape

    B, S = batch.input_ids.shape
    T = batch.decoder_input_ids.shape[1] if batch.decoder_input_ids is not None else 0
    heads = int((batch.labels >= 0).sum())
    n_dec = (model_cfg.n_decoder_layers or model_cfg.n_layers) if arch_of(arch).has_decoder else 0
    return step_flops(model_cfg.d_model, model_cfg.d_ff, model_cfg.n_layers, n_dec, vocab, B, S, T, heads,
                      ModelShape.from_cfg(model_cfg).lm_transform(arch))

