"""BERT-like encoder: token + segment embeddings (+ learned positions, or rotary angles in every self-attention:
`model.positions`), Transformer blocks, MLM head tied to the token embedding, and a pooled first-position head for
NSP / sentence classification.

The variant switches (maskbench/models/shape.py) build maskbench's pre-LN encoder or BERT's and
RoBERTa's post-LN one with an embedding LayerNorm."""

from __future__ import annotations

import math

import torch
from torch import nn

from maskbench.models.layers import Block, LMHead, init_weights, key_padding_mask
from maskbench.models.rotary import Angles, Rotary
from maskbench.models.shape import ModelShape


class Embedded(nn.Module):
    """Base of both stacks: token (x scale) + learned positions from `pos_offset` (+ segment)
    (-> LayerNorm), then dropout. Attributes sit on the stack itself (`encoder.pos.weight` ...), the
    checkpoint names maskbench has always written. With rotary positions there is no table: `angles`
    gives the stack's self-attentions their rotations instead."""

    def _init_embeddings(self, tok: nn.Embedding, s: ModelShape, n_segments: int, head_dim: int | None = None):
        d = tok.embedding_dim
        self.tok = tok
        self.pos = None if s.rotary else nn.Embedding(s.max_positions + s.pos_offset, d)
        self.rotary = Rotary(head_dim or d // s.n_heads, s.max_positions, s.rope_theta) if s.rotary else None
        self.pos_offset = s.pos_offset
        self.seg = nn.Embedding(n_segments, d) if n_segments else None
        # Models saved before segments were always added used none when given no segment ids.
        self.segments_when_absent = not s.legacy_segments
        self.ln_emb = nn.LayerNorm(d, eps=s.ln_eps) if s.embed_norm else None
        self.scale = math.sqrt(d) if s.scale_embedding else 1.0
        self.drop = nn.Dropout(s.dropout)

    def embed(self, ids, token_type_ids=None, positions=None):
        x = self.tok(ids)
        if self.scale != 1.0:
            x = x * self.scale
        if self.pos is None:
            pass  # rotary: positions enter in attention (`angles`)
        elif positions is None:
            x = x + self.pos.weight[self.pos_offset: self.pos_offset + ids.shape[1]]
        else:
            x = x + self.pos(positions + self.pos_offset)
        if self.seg is not None:
            if token_type_ids is not None and self.seg.num_embeddings > 1:
                x = x + self.seg(token_type_ids)
            elif token_type_ids is not None or self.segments_when_absent:
                x = x + self.seg.weight[0]  # segment 0, as BERT adds when given no segment ids
        if self.ln_emb is not None:
            x = self.ln_emb(x)
        return self.drop(x)

    def angles(self, length: int, positions=None) -> Angles | None:
        """The rotary angles of positions 0 .. length-1, or of given positions [B, T]; None for learned positions."""
        if self.rotary is None:
            return None
        return self.rotary.first(length) if positions is None else self.rotary.at(positions)

    @property
    def max_positions(self) -> int:
        return self.rotary.max_positions if self.pos is None else self.pos.num_embeddings - self.pos_offset


class Encoder(Embedded):
    """The encoder stack alone (embeddings -> blocks -> final LayerNorm if pre-LN): both architectures."""

    def __init__(self, vocab_size: int, s: ModelShape, n_segments: int):
        super().__init__()
        self._init_embeddings(nn.Embedding(vocab_size, s.d_model), s, n_segments)
        self.blocks = nn.ModuleList(Block(s.d_model, s.n_heads, s.d_ff, s.dropout, norm=s.norm, eps=s.ln_eps,
                                          act=s.activation) for _ in range(s.n_layers))
        self.ln_f = nn.LayerNorm(s.d_model, eps=s.ln_eps) if s.norm == "pre" else None

    def forward(self, input_ids, pad_mask=None, token_type_ids=None, upto: int | None = None, at=None):
        """Final states [B, S, D]; with `upto=K` the states after the first K blocks (0 = the embeddings); with
        `at` (a models.rows.Rows) the final states [N, D] at those positions only, the last block run there."""
        x = self.embed(input_ids, token_type_ids)
        mask = key_padding_mask(pad_mask)
        angles = self.angles(input_ids.shape[1])
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            if upto is not None and i >= upto:
                return x
            if at is not None and i == last:
                x = block.forward_at(x, at, self_mask=mask, angles=angles)
            else:
                x = block(x, self_mask=mask, angles=angles)
        if at is not None and not self.blocks:
            x = at.take(x)
        return self.ln_f(x) if self.ln_f is not None else x


class Backbone(nn.Module):
    """What both architectures share: the encoder stack, the LM head tied to its token embedding, and
    the pooled first-position head (NSP, sentence classification)."""

    def __init__(self, m, vocab_size: int, arch: str):
        super().__init__()
        s = ModelShape.from_cfg(m)
        self.shape = s
        self.encoder = Encoder(vocab_size, s, s.n_segments)
        self.lm_head = LMHead(s.d_model, vocab_size, s.lm_transform(arch),
                              self.encoder.tok if s.tie_embeddings else None, eps=s.ln_eps, act=s.activation)
        # BERT's pooler: dense + tanh on the first position, then a 2-way NSP classifier.
        self.pooler = nn.Sequential(nn.Linear(s.d_model, s.d_model), nn.Tanh())
        self.nsp_head = nn.Linear(s.d_model, 2)

    @property
    def token_embedding(self) -> nn.Embedding:
        return self.encoder.tok

    def encode(self, batch, at=None) -> torch.Tensor:
        return self.encoder(batch.input_ids, batch.pad_mask, batch.token_type_ids, at=at)

    def pooled(self, encoder_hidden):
        """The pooled first ENCODER position: pass the encoder's hidden states."""
        return self.pooler(encoder_hidden[:, 0])


class EncoderModel(Backbone):
    arch = "encoder"

    def __init__(self, m, vocab_size: int):
        super().__init__(m, vocab_size, self.arch)
        init_weights(self)
        if self.encoder.seg is not None:
            # Segment 0 is added at every position of a single input (BERT's semantics, exact on export). A random
            # N(0, 0.02) vector there is one offset shared by every position, as large as the token signal: measured
            # to hold early MLM back (mini_30min train loss 7.06 vs 6.80 at step 200, 6.94 vs 6.51 at 400). Zero
            # starts from the no-segment forward; NSP and pairs still learn segment 1 against segment 0.
            nn.init.zeros_(self.encoder.seg.weight)

    def forward(self, batch, at=None) -> torch.Tensor:
        """Hidden states [B, S, D] (no head: callers gather the positions they need), or [N, D] at `at` only."""
        return self.encode(batch, at=at)
