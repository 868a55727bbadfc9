"""BERT-like encoder: token + learned position + segment embeddings, pre-LN blocks, MLM head tied to
the token embedding, and a pooled first-position head for NSP / sentence classification."""

from __future__ import annotations

import torch
from torch import nn

from maskbench.models.layers import Block, LMHead, init_weights, key_padding_mask


class Encoder(nn.Module):
    """The encoder stack alone (embeddings -> blocks -> final LayerNorm): shared by both architectures."""

    def __init__(self, vocab_size, d_model, n_layers, n_heads, d_ff, dropout, max_positions, n_segments=2):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_positions, d_model)
        self.seg = nn.Embedding(n_segments, d_model) if n_segments else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, input_ids, pad_mask=None, token_type_ids=None):
        T = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos.weight[:T]
        if self.seg is not None and token_type_ids is not None:
            x = x + self.seg(token_type_ids)
        x = self.drop(x)
        mask = key_padding_mask(pad_mask)
        for block in self.blocks:
            x = block(x, self_mask=mask)
        return self.ln_f(x)


class Backbone(nn.Module):
    """What both architectures share: the encoder stack, the LM head tied to its token embedding, and
    the pooled first-position head (NSP, sentence classification)."""

    def __init__(self, m, vocab_size: int):
        super().__init__()
        self.encoder = Encoder(vocab_size, m.d_model, m.n_layers, m.n_heads, m.d_ff, m.dropout, m.max_positions)
        self.lm_head = LMHead(m.d_model, vocab_size, m.mlm_transform, self.encoder.tok if m.tie_embeddings else None)
        # BERT's pooler: dense + tanh on the first position, then a 2-way NSP classifier.
        self.pooler = nn.Sequential(nn.Linear(m.d_model, m.d_model), nn.Tanh())
        self.nsp_head = nn.Linear(m.d_model, 2)

    @property
    def token_embedding(self) -> nn.Embedding:
        return self.encoder.tok

    def encode(self, batch) -> torch.Tensor:
        return self.encoder(batch.input_ids, batch.pad_mask, batch.token_type_ids)

    def pooled(self, encoder_hidden):
        """The pooled first ENCODER position: pass the encoder's hidden states."""
        return self.pooler(encoder_hidden[:, 0])


class EncoderModel(Backbone):
    arch = "encoder"

    def __init__(self, m, vocab_size: int):
        super().__init__(m, vocab_size)
        init_weights(self)

    def forward(self, batch) -> torch.Tensor:
        """Hidden states [B, S, D] (no head: callers gather the positions they need)."""
        return self.encode(batch)
