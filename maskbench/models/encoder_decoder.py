"""BART-like encoder-decoder: one token embedding shared by encoder, decoder and LM head; a causal
decoder with cross-attention; decoder positions can be given (MASS feeds a fragment at its original
positions). Pre-LN by default; `model.norm=post` with `embed_norm` builds BART's own layout.

With rotary positions (`model.positions=rope`) both stacks rotate their self-attentions' queries and keys, and
cross-attention is left unrotated, as T5Gemma and Moonshine (transformers' rotary encoder-decoders) do; T5's
relative biases are likewise in self-attention only. A MASS fragment is rotated by its original positions, but
rotary self-attention sees only offsets between them: where the fragment sits is read from the encoder's
[MASK] run through cross-attention, not from the decoder's positions."""

from __future__ import annotations

import torch
from torch import nn

from maskbench.models.encoder import Backbone, Embedded
from maskbench.models.layers import Block, init_weights, key_padding_mask
from maskbench.models.shape import ModelShape


class Decoder(Embedded):
    def __init__(self, tok: nn.Embedding, s: ModelShape):
        super().__init__()
        self._init_embeddings(tok, s, n_segments=0)
        self.blocks = nn.ModuleList(Block(s.d_model, s.n_heads, s.d_ff, s.dropout, cross=True, norm=s.norm,
                                          eps=s.ln_eps, act=s.activation) for _ in range(s.decoder_layers))
        self.ln_f = nn.LayerNorm(s.d_model, eps=s.ln_eps) if s.norm == "pre" else None

    def forward(self, ids, memory, memory_pad_mask=None, positions=None):
        x = self.embed(ids, positions=positions)
        mem_mask = key_padding_mask(memory_pad_mask)
        angles = self.angles(ids.shape[1], positions)
        # Decoder rows are right-padded, so a plain causal mask suffices: real positions never see pads.
        for block in self.blocks:
            x = block(x, is_causal=True, memory=memory, memory_mask=mem_mask, angles=angles)
        return self.ln_f(x) if self.ln_f is not None else x


class EncoderDecoderModel(Backbone):
    arch = "encoder_decoder"

    def __init__(self, m, vocab_size: int):
        super().__init__(m, vocab_size, self.arch)
        self.decoder = Decoder(self.encoder.tok, self.shape)
        init_weights(self)

    def forward(self, batch, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder hidden states [B, T, D]; pass `memory` to reuse an encoding."""
        if memory is None:
            memory = self.encode(batch)
        return self.decoder(batch.decoder_input_ids, memory, batch.pad_mask, batch.decoder_positions)
