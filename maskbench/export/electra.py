"""An ELECTRA pretraining run as transformers' ELECTRA classes: the discriminator as `ElectraForPreTraining`
(the export folder) and the generator as `ElectraForMaskedLM` (its `generator/` subfolder), as Google released
them (two folders, one tokenizer).

transformers' ELECTRA is BERT's post-LN layout with an embedding LayerNorm and no pooler; its generator reads
the shared embeddings through a projection to its own width (`embeddings_project`, our `proj_in`) and ends in
dense + GELU + LayerNorm + the tied vocabulary projection (our `transform` and `lm_head`). So a run pretrained in
that layout (`model.norm=post model.embed_norm=true`) maps exactly; maskbench's default pre-LN layout has no
ELECTRA class, and its export is the discriminator's encoder alone, with one line saying so.
"""

from __future__ import annotations


import torch

from maskbench.interop.families import FAMILIES, _lin, embedding_rules, hf_config, layer_rules, to_theirs
from maskbench.interop.hf_build import sample_text_ids


def why_not_electra(model) -> str | None:
    s = model.shape
    if s.norm == "post" and s.embed_norm and s.pos_offset == 0 and s.activation == "gelu":
        return None
    return ("this ELECTRA run uses maskbench's pre-LN layout, which no transformers ELECTRA class has (it is BERT's "
            "post-LN one): the folder holds the discriminator's encoder without its replaced-token head or generator; "
            "pretrain with model.norm=post model.embed_norm=true for ElectraForPreTraining + ElectraForMaskedLM")


def build_electra_export(src, corruption, vocab, transformers):
    """(Built with the generator as a subfolder, None), or (None, why) when the layout has no ELECTRA class."""
    from maskbench.interop.hf_build import Built, load_exactly

    model = src.pretraining_model(corruption, vocab.size)
    why = why_not_electra(model)
    if why:
        return None, why
    fam, s = FAMILIES["electra"], model.shape
    disc_config = hf_config(fam, s, vocab, vocab.size)
    disc = transformers.ElectraForPreTraining(disc_config)
    load_exactly(disc, _theirs(model, discriminator_rules(s)), fam)
    gen_config = generator_config(model, disc_config, transformers)
    gen = transformers.ElectraForMaskedLM(gen_config)
    theirs = _theirs(model, generator_rules(model))
    theirs["generator_lm_head.weight"] = theirs["electra.embeddings.word_embeddings.weight"]  # tied
    load_exactly(gen, theirs, fam)
    built = Built(disc, "ElectraForPreTraining", fam, s, lambda m: discriminator_difference(model, m, vocab), [])
    built.subfolders = [("generator", gen, "ElectraForMaskedLM", lambda m: generator_difference(model, m, vocab))]
    return built, None


def discriminator_rules(s) -> list:
    P = "electra."
    out = embedding_rules(P, s)
    for i in range(s.n_layers):
        out += layer_rules(f"encoder.blocks.{i}", f"{P}encoder.layer.{i}")
    return out + _lin("rtd_head.0", "discriminator_predictions.dense") + \
        _lin("rtd_head.2", "discriminator_predictions.dense_prediction")


def generator_rules(model) -> list:
    P, s, g = "electra.", model.shape, model.generator
    out = embedding_rules(P, s)  # the shared embeddings, copied into the generator's own
    if isinstance(g.proj_in, torch.nn.Linear):
        out += _lin("generator.proj_in", f"{P}embeddings_project")
    for i in range(len(g.blocks)):
        out += layer_rules(f"generator.blocks.{i}", f"{P}encoder.layer.{i}")
    out += _lin("generator.transform.0", "generator_predictions.dense")
    out += _lin("generator.transform.2", "generator_predictions.LayerNorm")
    from maskbench.interop.families import Rule

    return out + [Rule("generator.lm_head.bias", ("generator_lm_head.bias",))]


def generator_config(model, disc_config, transformers):
    g, s = model.generator, model.shape
    width = g.transform[0].in_features
    heads = g.blocks[0].attn.n_heads
    return transformers.ElectraConfig(**{**disc_config.to_dict(), "hidden_size": width, "num_attention_heads": heads,
                                         "intermediate_size": g.blocks[0].ffn.up.out_features,
                                         "embedding_size": s.d_model, "architectures": ["ElectraForMaskedLM"],
                                         "tie_word_embeddings": True})


def _theirs(model, rules) -> dict:
    ours = model.state_dict()
    out = {}
    for rule in rules:
        out.update(to_theirs(rule, ours[rule.ours].detach().float().clone()))
    return out


def _sample(vocab):
    g = torch.Generator().manual_seed(0)
    ids = sample_text_ids(vocab, 12, g)
    return torch.cat([torch.full((2, 1), vocab.cls), ids, torch.full((2, 1), vocab.sep)], 1)


@torch.no_grad()
def discriminator_difference(model, hf, vocab) -> float:
    x = _sample(vocab)
    ours = model.rtd_head(model.encoder(x, None, None)).squeeze(-1)
    return float((ours - hf(input_ids=x).logits).abs().max())


@torch.no_grad()
def generator_difference(model, hf, vocab) -> float:
    x = _sample(vocab)
    h = model.generator(model.encoder.embed(x, None), None)
    ours = model.generator.lm_head(h)
    return float((ours - hf(input_ids=x).logits).abs().max())
