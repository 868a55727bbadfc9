"""ELECTRA (Clark et al. 2020), the objective: its data side, its model, its losses, its FLOPs.

Data: BERT's token selection with the released code's split (85% [MASK], 15% unchanged, no random token). The
replacement itself needs the generator, so it happens in the model (models/electra.py): the generator samples a
token at each selected position and the discriminator is trained on the result. Labels: the original token at
selected positions, as for `bert_mlm`. Its schema is config/schema/corruption.py's ElectraRTD."""

from __future__ import annotations

from maskbench.batch import Term
from maskbench.corruption.bert import BertMLM
from maskbench.models.flops import step_flops


class ElectraMasking(BertMLM):
    """`electra`: the generator's input (BERT masking with the configured split), and ELECTRA's training hooks."""

    # The parts an ELECTRA checkpoint holds besides the discriminator: a plain encoder loading it leaves them out.
    checkpoint_extra = ("generator.", "rtd_head.")

    @classmethod
    def build_model(cls, cfg, model_cfg, arch: str, vocab_size: int):
        """The discriminator (maskbench's encoder, the model kept) with its generator."""
        from maskbench.models.electra import ElectraPretrainModel

        return ElectraPretrainModel(model_cfg, vocab_size, cfg.generator_size, cfg.disc_weight)

    @classmethod
    def prepare_model(cls, cfg, model, vocab) -> None:
        model.forbid_samples(vocab.text_ids())  # its generator samples text tokens only

    @classmethod
    def loss_terms(cls, cfg, model, batch) -> dict:
        """'mlm' the generator's, 'rtd' the discriminator's (weight disc_weight), 'replaced' the share of positions
        the samples replaced (weight 0: logged, not trained)."""
        t = model.electra_terms(batch)
        return {"mlm": Term(*t["mlm"]), "rtd": Term(*t["rtd"]), "replaced": Term(*t["replaced"])}

    @classmethod
    def step_flops(cls, cfg, model_cfg, arch: str, vocab: int, batch) -> float:
        B, S = batch.input_ids.shape
        heads = int((batch.labels >= 0).sum())
        return electra_step_flops(model_cfg.d_model, model_cfg.d_ff, model_cfg.n_layers, model_cfg.n_heads, vocab,
                                  B, S, heads, cfg.generator_size)


def electra_step_flops(d: int, d_ff: int, n_layers: int, n_heads: int, vocab: int, batch: int, seq: float,
                       head_positions: float, generator_size: float) -> float:
    """ELECTRA: the discriminator at every position (blocks + its dense/dense replaced-token head) plus the
    generator (projection to its width, its blocks, dense back to the embedding width and the vocabulary
    projection at the selected positions). Sampling is an argmax, not a matmul: not counted."""
    from maskbench.models.electra import generator_sizes

    gw, _, g_ff = generator_sizes(d, n_heads, d_ff, generator_size)
    disc = step_flops(d, d_ff, n_layers, 0, vocab, batch, seq) + 3.0 * batch * seq * (2 * d * d + 2 * d)
    gen = step_flops(gw, g_ff, n_layers, 0, vocab, batch, seq) + 3.0 * batch * seq * 2 * d * gw
    gen += 3.0 * head_positions * (2 * gw * d + 2 * d * vocab)
    return disc + gen
