"""ELECTRA pretraining (Clark et al. 2020): a discriminator (maskbench's encoder, the model that is kept) and a
narrower masked-LM generator that shares its token, position and segment embeddings.

Per batch (`corruption=electra` gives [MASK]ed input and labels at the selected positions):
1. the generator reads the masked input and predicts the selected positions (MLM loss);
2. a token is *sampled* from its softmax at each selected position (Gumbel-max, no gradient through it);
3. the discriminator reads the input with the samples put in and predicts, at every non-padding position,
   whether the token differs from the original (binary cross-entropy). A sample equal to the original
   counts as original, as in the paper.

The generator follows ELECTRA's layout: the shared embeddings (discriminator width) projected down to its
own width, its blocks, then dense back to the embedding width + GELU + LayerNorm and the tied vocabulary
projection. Checkpoints keep everything (`generator.*`, `rtd_head.*`); a plain encoder (fine-tuning,
probes, compare) loads the discriminator and leaves those out (corruption/electra.py: checkpoint_extra)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maskbench.batch import IGNORE
from maskbench.models.encoder import EncoderModel
from maskbench.models.layers import Block, LMHead, activation, init_weights, key_padding_mask
from maskbench.models.rotary import Rotary



def generator_sizes(d_model: int, n_heads: int, d_ff: int, fraction: float) -> tuple[int, int, int]:
    """(width, heads, feed-forward) of the generator: `fraction` of the discriminator's (ELECTRA-Small: 256 wide,
    4 heads, 1024 feed-forward -> 64, 1, 256), at least one head and 8 wide."""
    width = max(8, round(d_model * fraction))
    heads = max(1, round(n_heads * fraction))
    while width % heads:
        heads -= 1
    return width, heads, max(1, round(d_ff * fraction))


class Generator(nn.Module):
    """The small masked LM. Its embeddings are the discriminator's (passed in, not owned)."""

    def __init__(self, owner: EncoderModel, fraction: float):
        super().__init__()
        s = owner.shape
        width, heads, d_ff = generator_sizes(s.d_model, s.n_heads, s.d_ff, fraction)
        self.proj_in = nn.Linear(s.d_model, width) if width != s.d_model else nn.Identity()
        self.blocks = nn.ModuleList(Block(width, heads, d_ff, s.dropout, norm=s.norm, eps=s.ln_eps,
                                          act=s.activation) for _ in range(s.n_layers))
        self.ln_f = nn.LayerNorm(width, eps=s.ln_eps) if s.norm == "pre" else None
        # The shared embeddings carry no positions when they are rotary: the generator rotates its own heads.
        if s.rotary and (width // heads) % 2:
            from maskbench.errors import MaskbenchError
            raise MaskbenchError(f"ELECTRA's generator heads are {width // heads} wide, which rotary positions cannot "
                                 f"rotate in pairs: choose corruption.generator_size so that they are even")
        self.rotary = Rotary(width // heads, s.max_positions, s.rope_theta) if s.rotary else None
        # ELECTRA's generator head: dense to the embedding width, GELU, LayerNorm, tied output embedding.
        self.transform = nn.Sequential(nn.Linear(width, s.d_model), activation(s.activation),
                                       nn.LayerNorm(s.d_model, eps=s.ln_eps))
        self.lm_head = LMHead(s.d_model, owner.encoder.tok.num_embeddings, False, owner.encoder.tok, eps=s.ln_eps)

    def forward(self, embedded: torch.Tensor, mask) -> torch.Tensor:
        x = self.proj_in(embedded)
        angles = self.rotary.first(x.shape[1]) if self.rotary is not None else None
        for block in self.blocks:
            x = block(x, self_mask=mask, angles=angles)
        x = self.ln_f(x) if self.ln_f is not None else x
        return self.transform(x)


class ElectraPretrainModel(EncoderModel):
    """The discriminator (an EncoderModel: what fine-tuning and export read) plus the generator and the
    replaced-token head used only in pretraining."""

    def __init__(self, m, vocab_size: int, generator_size: float = 0.25, disc_weight: float = 50.0):
        super().__init__(m, vocab_size)
        self.disc_weight = float(disc_weight)
        d = self.shape.d_model
        # ElectraDiscriminatorPredictions: dense + activation + a one-logit projection.
        self.rtd_head = nn.Sequential(nn.Linear(d, d), activation(self.shape.activation), nn.Linear(d, 1))
        self.generator = Generator(self, generator_size)
        init_weights(self.rtd_head)
        init_weights(self.generator)  # the shared embedding is the discriminator's, initialised above
        # Added to the generator's logits when sampling: -inf at special ids, so no special token is ever put in.
        self.register_buffer("sample_mask", torch.zeros(vocab_size), persistent=False)

    def forbid_samples(self, text_ids: torch.Tensor) -> None:
        """Only these ids (the vocabulary's non-special tokens) may be sampled as replacements."""
        self.sample_mask.fill_(float("-inf"))
        self.sample_mask[text_ids.to(self.sample_mask.device)] = 0.0

    def generator_logits(self, batch, sel: torch.Tensor) -> torch.Tensor:
        """The generator's vocabulary logits at the selected positions [N, V]."""
        embedded = self.encoder.embed(batch.input_ids, batch.token_type_ids)
        h = self.generator(embedded, key_padding_mask(batch.pad_mask))[sel]
        return self.generator.lm_head(h).float()

    @torch.no_grad()
    def replace(self, batch, logits: torch.Tensor, sel: torch.Tensor, generator: torch.Generator | None = None):
        """(the discriminator's input, replaced [B, S] bool): at each selected position a token sampled from the
        generator's softmax (Gumbel-max over text tokens, no gradient through the choice); a sample equal to the
        original counts as original."""
        u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-9, 1.0 - 1e-9)
        sampled = (logits + self.sample_mask - torch.log(-torch.log(u))).argmax(-1)
        disc_ids = batch.input_ids.clone()
        disc_ids[sel] = sampled
        replaced = torch.zeros_like(sel)
        replaced[sel] = sampled != batch.labels[sel]
        return disc_ids, replaced

    def replaced_probability(self, disc_ids, batch) -> torch.Tensor:
        """The discriminator's p(replaced) at every position [B, S]."""
        states = self.encoder(disc_ids, batch.pad_mask, batch.token_type_ids)
        return torch.sigmoid(self.rtd_head(states).squeeze(-1).float())

    def electra_terms(self, batch) -> dict:
        """{'mlm': generator (sum, count, correct), 'rtd': discriminator (sum, count, correct, weight),
        'replaced': (replaced, positions, replaced, 0.0)} for one batch."""
        sel = batch.labels != IGNORE
        target = batch.labels[sel]
        logits = self.generator_logits(batch, sel)
        gen_loss = F.cross_entropy(logits, target, reduction="sum")
        gen_correct = (logits.detach().argmax(-1) == target).sum()
        disc_ids, replaced = self.replace(batch, logits.detach(), sel)
        real = ~batch.pad_mask if batch.pad_mask is not None else torch.ones_like(sel)
        states = self.encoder(disc_ids, batch.pad_mask, batch.token_type_ids)
        disc_logits = self.rtd_head(states[real]).squeeze(-1).float()
        is_replaced = replaced[real].float()
        disc_loss = F.binary_cross_entropy_with_logits(disc_logits, is_replaced, reduction="sum")
        disc_correct = ((disc_logits.detach() > 0) == replaced[real]).sum()
        n_real = real.sum()
        n_replaced = replaced.sum()
        return {"mlm": (gen_loss, target.new_tensor(target.numel()), gen_correct),
                "rtd": (disc_loss, n_real, disc_correct, self.disc_weight),
                "replaced": (n_replaced.float(), n_real, n_replaced, 0.0)}


class GeneratorMLM(nn.Module):
    """An ELECTRA run's generator as a masked LM (what `maskbench fill` reads): model(batch) gives its states at
    the embedding width, `lm_head` the vocabulary logits. The discriminator's own MLM head is never trained."""

    def __init__(self, electra: ElectraPretrainModel):
        super().__init__()
        self.electra, self.arch, self.shape = electra, "encoder", electra.shape
        self.lm_head = electra.generator.lm_head

    def forward(self, batch) -> torch.Tensor:
        e = self.electra
        return e.generator(e.encoder.embed(batch.input_ids, batch.token_type_ids), key_padding_mask(batch.pad_mask))
