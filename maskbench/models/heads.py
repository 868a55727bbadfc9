"""Fine-tuning heads on a pretrained (or fresh) backbone, for the four task shapes BERT is used for.

Encoder: sentence tasks read the pooled first position ([CLS]); token tasks and QA read every position.
Encoder-decoder (BART recipe): the same sequence goes to encoder and decoder; sentence tasks read the
decoder's final state at the last real token ([EOS]); token tasks and QA read the decoder's states.
`pooling="mean"` replaces either summary token by the mean of the real (non-pad) positions' states: an
MLM-only encoder never trains its [CLS] state or pooler, while every position's state was trained.
"""

from __future__ import annotations

import torch
from torch import nn

class TaskModel(nn.Module):
    """`freeze=True` trains the head alone on frozen states (a probe): the backbone gets no gradient and
    runs without dropout. `probe_layer=K` reads the encoder's states after its first K blocks (0 = the
    embeddings) instead of the model's usual final states, for either architecture."""

    def __init__(self, backbone, sentence_level: bool, n_outputs: int, dropout: float, pooling: str = "token",
                 freeze: bool = False, probe_layer: int | None = None):
        super().__init__()
        from maskbench.errors import MaskbenchError

        # sentence_level: one prediction per input from a pooled state; else one per position (tags, QA spans)
        self.backbone, self.sentence_level, self.pooling = backbone, sentence_level, pooling
        self.arch = backbone.arch
        self.freeze, self.probe_layer = freeze, probe_layer
        n_layers = len(backbone.encoder.blocks)
        if probe_layer is not None and not 0 <= probe_layer <= n_layers:
            raise MaskbenchError(f"task.probe_layer={probe_layer}: this encoder has layers 0 (embeddings) to {n_layers}")
        if freeze:
            for p in backbone.parameters():
                p.requires_grad_(False)
        d = backbone.token_embedding.embedding_dim
        self.drop = nn.Dropout(dropout)
        if sentence_level and self.arch == "encoder_decoder" and pooling == "token":
            # BART's classification head: dense + tanh before the output layer.
            self.dense = nn.Sequential(nn.Linear(d, d), nn.Tanh())
        self.head = nn.Linear(d, n_outputs)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def features(self, batch) -> torch.Tensor:
        """The states the head reads: [B, S, D] (frozen: without dropout or gradient)."""
        if self.freeze:
            self.backbone.eval()
            with torch.no_grad():
                return self._states(batch)
        return self._states(batch)

    def _states(self, batch) -> torch.Tensor:
        if self.probe_layer is not None:
            return self.backbone.encoder(batch.input_ids, batch.pad_mask, batch.token_type_ids, upto=self.probe_layer)
        # Encoder: its states. Encoder-decoder: decoder states (batch.decoder_input_ids = the input sequence).
        return self.backbone(batch)

    def forward(self, batch) -> torch.Tensor:
        h = self.features(batch)
        if self.sentence_level:
            if self.pooling == "mean":
                pooled = _mean_over_real(h, batch.pad_mask)
            elif self.arch == "encoder":
                pooled = self.backbone.pooled(h)
            else:  # the final [EOS] state (decoder's, or the encoder's with probe_layer)
                S = h.shape[1]
                last = torch.full((h.shape[0],), S - 1, device=h.device) if batch.pad_mask is None else \
                    (~batch.pad_mask).long().sum(1) - 1
                pooled = self.dense(h[torch.arange(h.shape[0], device=h.device), last])
            return self.head(self.drop(pooled))  # [B, n_labels]
        return self.head(self.drop(h))  # [B, S, n_tags] or [B, S, 2] (QA start/end)


def _mean_over_real(h: torch.Tensor, pad_mask) -> torch.Tensor:
    """Mean of the states at real (non-pad) positions: [B, S, D] -> [B, D]."""
    if pad_mask is None:
        return h.mean(1)
    keep = (~pad_mask).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp_min(1.0)
