"""BART-like encoder-decoder: one token embedding shared by encoder, decoder and LM head; a causal
decoder with cross-attention; decoder positions can be given (MASS feeds a fragment at its original
positions)."""

from __future__ import annotations

import torch
from torch import nn

from maskbench.models.encoder import Backbone
from maskbench.models.layers import Block, init_weights, key_padding_mask


class Decoder(nn.Module):
    def __init__(self, tok: nn.Embedding, d_model, n_layers, n_heads, d_ff, dropout, max_positions):
        super().__init__()
        self.tok = tok
        self.pos = nn.Embedding(max_positions, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout, cross=True) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, ids, memory, memory_pad_mask=None, positions=None):
        pos = self.pos.weight[: ids.shape[1]] if positions is None else self.pos(positions)
        x = self.drop(self.tok(ids) + pos)
        mem_mask = key_padding_mask(memory_pad_mask)
        # Decoder rows are right-padded, so a plain causal mask suffices: real positions never see pads.
        for block in self.blocks:
            x = block(x, is_causal=True, memory=memory, memory_mask=mem_mask)
        return self.ln_f(x)


class EncoderDecoderModel(Backbone):
    arch = "encoder_decoder"

    def __init__(self, m, vocab_size: int):
        super().__init__(m, vocab_size)
        n_dec = m.n_decoder_layers or m.n_layers
        self.decoder = Decoder(self.encoder.tok, m.d_model, n_dec, m.n_heads, m.d_ff, m.dropout, m.max_positions)
        init_weights(self)

    def forward(self, batch, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder hidden states [B, T, D]; pass `memory` to reuse an encoding."""
        if memory is None:
            memory = self.encode(batch)
        return self.decoder(batch.decoder_input_ids, memory, batch.pad_mask, batch.decoder_positions)
