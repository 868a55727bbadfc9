"""Which transformers class has which maskbench layout, and how each parameter corresponds.

| family | transformers class | maskbench layout |
|---|---|---|
| megatron_bert | MegatronBertForPreTraining | our encoder (pre-LN, final LayerNorm, no embedding LayerNorm) |
| bert | BertForPreTraining | post-LN encoder, embedding LayerNorm |
| roberta | RobertaForMaskedLM | post-LN encoder, embedding LayerNorm, positions from 2, one segment |
| blenderbot | BlenderbotForConditionalGeneration | our encoder-decoder (pre-LN, final LayerNorms) |
| bart | BartForConditionalGeneration | post-LN encoder-decoder, embedding LayerNorms, positions from 2 |
| electra | ElectraForPreTraining (+ ElectraForMaskedLM generator) | a post-LN ELECTRA discriminator: BERT's layout, its replaced-token head, no pooler |
| esm | EsmForMaskedLM (ESM-2) | our encoder with rotary positions (pre-LN, final LayerNorm), no segments |
| roformer | RoFormerForMaskedLM | BERT's layout with rotary positions (post-LN, embedding LayerNorm) |

Rotary encoders: RoFormer pairs a head's dimensions as maskbench does (neighbours, 2i with 2i+1); ESM pairs i with
i + d/2, the same function once the query and key rows of each head are reordered (`half_split_order`).
No transformers class has a rotary encoder-decoder: export says so.

A `Rule` maps one maskbench tensor to one or more transformers tensors: `copy`, `cat` (our fused
q|k|v or k|v projection = theirs concatenated along dim 0), `cat_pairs` (as `cat`, the query and key rows
reordered from neighbour pairs to ESM's rotate-half pairs) or `row` (our LM bias [V] = their
`final_logits_bias[0]`). Rules marked optional are heads a folder may lack (BertModel has no MLM
head; RobertaForMaskedLM no pooler): maskbench keeps its own initialisation there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskbench.arch import ENCODER, ENCODER_DECODER, arch_of
from maskbench.models.shape import ModelShape

_ACT_FROM_HF = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu"}
_ACT_TO_HF = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"}


@dataclass(frozen=True)
class Rule:
    ours: str
    theirs: tuple[str, ...]
    op: str = "copy"        # copy | cat | cat_pairs | row
    optional: bool = False  # the folder may lack it (a head); keep ours
    heads: int = 0          # cat_pairs: attention heads whose rows are reordered


@dataclass(frozen=True)
class Family:
    name: str
    model_type: str
    hf_class: str
    arch: str
    prefix: str  # where the base model sits in the head model's state dict ("bert.", "model.")
    # tensors transformers ties to another one: alias -> source (filled on export)
    tied: tuple[tuple[str, str], ...]
    # tensors with no maskbench counterpart that transformers computes itself (a sinusoid table, rotary inverse
    # frequencies, ESM's contact head): named by their ending, kept from the freshly built transformers model
    own: tuple[str, ...] = ()
    pooler_in_head_class: bool = True  # the head class (…ForMaskedLM) holds the pooler (ESM's does not)

    @property
    def encoder_only(self) -> bool:
        return arch_of(self.arch).encoder_only


FAMILIES = {f.name: f for f in (
    Family("megatron_bert", "megatron-bert", "MegatronBertForPreTraining", ENCODER.name, "bert.",
           (("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
            ("cls.predictions.decoder.bias", "cls.predictions.bias"))),
    Family("bert", "bert", "BertForPreTraining", ENCODER.name, "bert.",
           (("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
            ("cls.predictions.decoder.bias", "cls.predictions.bias"))),
    Family("roberta", "roberta", "RobertaForMaskedLM", ENCODER.name, "roberta.",
           (("lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight"),
            ("lm_head.decoder.bias", "lm_head.bias"))),
    Family("blenderbot", "blenderbot", "BlenderbotForConditionalGeneration", ENCODER_DECODER.name, "model.",
           (("model.encoder.embed_tokens.weight", "model.shared.weight"),
            ("model.decoder.embed_tokens.weight", "model.shared.weight"), ("lm_head.weight", "model.shared.weight"))),
    Family("bart", "bart", "BartForConditionalGeneration", ENCODER_DECODER.name, "model.",
           (("model.encoder.embed_tokens.weight", "model.shared.weight"),
            ("model.decoder.embed_tokens.weight", "model.shared.weight"), ("lm_head.weight", "model.shared.weight"))),
    Family("electra", "electra", "ElectraForPreTraining", ENCODER.name, "electra.", ()),
    Family("esm", "esm", "EsmForMaskedLM", ENCODER.name, "esm.",
           (("lm_head.decoder.weight", "esm.embeddings.word_embeddings.weight"),),
           own=("rotary_embeddings.inv_freq", "contact_head.regression.weight", "contact_head.regression.bias"),
           pooler_in_head_class=False),
    Family("roformer", "roformer", "RoFormerForMaskedLM", ENCODER.name, "roformer.",
           (("cls.predictions.decoder.weight", "roformer.embeddings.word_embeddings.weight"),
            ("cls.predictions.decoder.bias", "cls.predictions.bias")),
           own=("encoder.embed_positions.weight",)),
)}
BY_MODEL_TYPE = {f.model_type: f for f in FAMILIES.values()}


def family_for_shape(arch: str, s: ModelShape) -> Family:
    """The transformers family that has exactly this maskbench layout."""
    from maskbench.errors import MaskbenchError

    if s.rotary:
        return _rotary_family(arch, s)
    if arch_of(arch).encoder_only:
        if s.norm == "pre" and not s.embed_norm and s.pos_offset == 0:
            return FAMILIES["megatron_bert"]
        if s.norm == "post" and s.embed_norm and s.pos_offset == 0:
            return FAMILIES["bert"]
        if s.norm == "post" and s.embed_norm and s.pos_offset == 2:
            return FAMILIES["roberta"]
    else:
        if s.norm == "pre" and not s.embed_norm and s.pos_offset == 0:
            return FAMILIES["blenderbot"]
        if s.norm == "post" and s.embed_norm and s.pos_offset == 2:
            return FAMILIES["bart"]
    raise MaskbenchError(f"no transformers class has this {arch} layout (norm={s.norm}, embed_norm={s.embed_norm}, "
                         f"pos_offset={s.pos_offset}): export supports maskbench's defaults and the BERT, "
                         f"RoBERTa and BART layouts")


def _rotary_family(arch: str, s: ModelShape) -> Family:
    """ESM (pre-LN) or RoFormer (post-LN, embedding LayerNorm) for a rotary encoder; one line otherwise."""
    from maskbench.errors import MaskbenchError

    if not arch_of(arch).encoder_only:
        raise MaskbenchError("no transformers class has a rotary encoder-decoder (model.positions=rope): this model "
                             "cannot be exported; it still works in maskbench (fill, probe, fine-tuning)")
    if s.norm == "pre":  # segments: interop/hf_build.py folds segment 0 where it can, or refuses
        if s.activation != "gelu":
            raise MaskbenchError(f"ESM uses exact GELU; this model uses model.activation={s.activation}")
        return FAMILIES["esm"]
    if s.embed_norm:
        if s.rope_theta != 10000.0:
            raise MaskbenchError(f"RoFormer's rotary base is fixed at 10000; this model has "
                                 f"model.rope_theta={s.rope_theta:g}")
        return FAMILIES["roformer"]
    raise MaskbenchError("no transformers class has this rotary layout (post-LN without an embedding LayerNorm): "
                         "export supports model.norm=pre (ESM) and model.norm=post with model.embed_norm=true (RoFormer)")


def half_split_order(heads: int, width: int) -> torch.Tensor:
    """Row order that turns maskbench's neighbour pairs (2i with 2i+1 in each head) into ESM's rotate-half pairs
    (i with i + d/2): theirs = ours[order]."""
    d = width // heads
    within = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
    return (torch.arange(heads)[:, None] * d + within[None, :]).reshape(-1)


def check_computed_tables(fam: Family, theirs: dict, s: ModelShape, folder) -> None:
    """A folder's rotary tables (RoFormer's sinusoids, ESM's inverse frequencies) are recomputed by maskbench, not
    copied: refuse a folder whose stored ones are not the standard ones, which maskbench would silently replace."""
    from maskbench.errors import MaskbenchError
    from maskbench.models.rotary import inverse_frequencies

    inv = inverse_frequencies(s.d_model // s.n_heads, s.rope_theta)
    for name, t in theirs.items():
        if fam.name == "roformer" and name.endswith("encoder.embed_positions.weight"):
            angles = torch.arange(t.shape[0], dtype=torch.float32)[:, None] * inv
            want = torch.cat([angles.sin(), angles.cos()], 1)
        elif fam.name == "esm" and name.endswith("inv_freq"):
            want = inv
        else:
            continue
        if t.shape != want.shape or not torch.allclose(t.float(), want, atol=1e-5):
            raise MaskbenchError(f"{folder}: its '{name}' is not the standard rotary table for its config "
                                 f"(theta {s.rope_theta:g}): maskbench computes it and would not hold this model exactly")


def _lin(ours: str, theirs: str, optional: bool = False) -> list[Rule]:
    return [Rule(f"{ours}.{p}", (f"{theirs}.{p}",), optional=optional) for p in ("weight", "bias")]


def _cat(ours: str, theirs: list[str]) -> list[Rule]:
    return [Rule(f"{ours}.{p}", tuple(f"{t}.{p}" for t in theirs), "cat") for p in ("weight", "bias")]


def rules(fam: Family, s: ModelShape) -> list[Rule]:
    """Every maskbench tensor of this family's layout and where transformers keeps it."""
    return _encoder_rules(fam, s) if fam.encoder_only else _seq2seq_rules(fam, s)


def embedding_rules(P: str, s: ModelShape) -> list[Rule]:
    out = [Rule("encoder.tok.weight", (f"{P}embeddings.word_embeddings.weight",))]
    if not s.rotary:
        out.append(Rule("encoder.pos.weight", (f"{P}embeddings.position_embeddings.weight",)))
    if s.n_segments:
        out.append(Rule("encoder.seg.weight", (f"{P}embeddings.token_type_embeddings.weight",)))
    if s.embed_norm:
        out += _lin("encoder.ln_emb", f"{P}embeddings.LayerNorm")
    return out


def layer_rules(ours: str, L: str, megatron: bool = False, esm: bool = False, pairs_heads: int = 0) -> list[Rule]:
    """One encoder block: ours (e.g. `encoder.blocks.0`) and BERT's (e.g. `bert.encoder.layer.0`); `pairs_heads`:
    RoFormer's rotary pairs, its query and key rows reordered per head."""
    qkv = [f"{L}.attention.self.{n}" for n in ("query", "key", "value")]
    if pairs_heads:
        out = [Rule(f"{ours}.attn.qkv.{p}", tuple(f"{t}.{p}" for t in qkv), "cat_pairs", heads=pairs_heads)
               for p in ("weight", "bias")]
    else:
        out = _cat(f"{ours}.attn.qkv", qkv)
    out += _lin(f"{ours}.attn.out", f"{L}.attention.output.dense")
    out += _lin(f"{ours}.ffn.up", f"{L}.intermediate.dense") + _lin(f"{ours}.ffn.down", f"{L}.output.dense")
    if megatron:
        return out + _lin(f"{ours}.ln1", f"{L}.attention.ln") + _lin(f"{ours}.ln2", f"{L}.ln")
    if esm:
        return out + _lin(f"{ours}.ln1", f"{L}.attention.LayerNorm") + _lin(f"{ours}.ln2", f"{L}.LayerNorm")
    return out + _lin(f"{ours}.ln1", f"{L}.attention.output.LayerNorm") + _lin(f"{ours}.ln2", f"{L}.output.LayerNorm")


def _encoder_rules(fam: Family, s: ModelShape) -> list[Rule]:
    P, megatron, esm = fam.prefix, fam.name == "megatron_bert", fam.name == "esm"
    out = embedding_rules(P, s)
    if esm:  # no segment table (segment 0 is folded: interop/hf_build.py); emb_layer_norm_before is its embed_norm
        out = [r for r in out if not r.ours.startswith(("encoder.ln_emb", "encoder.seg"))]
        out += _lin("encoder.ln_emb", f"{P}embeddings.layer_norm") if s.embed_norm else []
    pairs = s.n_heads if esm else 0
    for i in range(s.n_layers):
        out += layer_rules(f"encoder.blocks.{i}", f"{P}encoder.layer.{i}", megatron, esm, pairs)
    if megatron:
        out += _lin("encoder.ln_f", f"{P}encoder.ln")
    if esm:
        out += _lin("encoder.ln_f", f"{P}encoder.emb_layer_norm_after") + _lin("pooler.0", f"{P}pooler.dense", True)
        return out + [Rule("lm_head.bias", ("lm_head.bias",), optional=True)] + \
            _lin("lm_head.transform.0", "lm_head.dense", True) + _lin("lm_head.transform.2", "lm_head.layer_norm", True)
    if fam.name == "roformer":  # no pooler, no next-sentence head: RoFormerForMaskedLM
        return out + [Rule("lm_head.bias", ("cls.predictions.bias",), optional=True)] + \
            _lin("lm_head.transform.0", "cls.predictions.transform.dense", True) + \
            _lin("lm_head.transform.2", "cls.predictions.transform.LayerNorm", True)
    if fam.name == "electra":  # the discriminator's replaced-token head (ElectraPretrainModel); no pooler, no MLM head
        return out + _lin("rtd_head.0", "discriminator_predictions.dense", True) + \
            _lin("rtd_head.2", "discriminator_predictions.dense_prediction", True)
    if fam.name == "roberta":
        out += [Rule("lm_head.bias", ("lm_head.bias",), optional=True)]
        out += _lin("lm_head.transform.0", "lm_head.dense", True) + _lin("lm_head.transform.2", "lm_head.layer_norm", True)
    else:
        out += _lin("pooler.0", f"{P}pooler.dense", True) + _lin("nsp_head", "cls.seq_relationship", True)
        out += [Rule("lm_head.bias", ("cls.predictions.bias",), optional=True)]
        out += _lin("lm_head.transform.0", "cls.predictions.transform.dense", True)
        out += _lin("lm_head.transform.2", "cls.predictions.transform.LayerNorm", True)
    return out


def _seq2seq_rules(fam: Family, s: ModelShape) -> list[Rule]:
    bart = fam.name == "bart"
    out = [Rule("encoder.tok.weight", ("model.shared.weight",)),
           Rule("lm_head.bias", ("final_logits_bias",), "row", optional=True)]
    for side, n in (("encoder", s.n_layers), ("decoder", s.decoder_layers)):
        M = f"model.{side}"
        out.append(Rule(f"{side}.pos.weight", (f"{M}.embed_positions.weight",)))
        out += _lin(f"{side}.ln_emb", f"{M}.layernorm_embedding") if bart else _lin(f"{side}.ln_f", f"{M}.layer_norm")
        for i in range(n):
            ours, L = f"{side}.blocks.{i}", f"{M}.layers.{i}"
            out += _cat(f"{ours}.attn.qkv", [f"{L}.self_attn.{p}_proj" for p in "qkv"])
            out += _lin(f"{ours}.attn.out", f"{L}.self_attn.out_proj") + _lin(f"{ours}.ln1", f"{L}.self_attn_layer_norm")
            out += _lin(f"{ours}.ffn.up", f"{L}.fc1") + _lin(f"{ours}.ffn.down", f"{L}.fc2")
            out += _lin(f"{ours}.ln2", f"{L}.final_layer_norm")
            if side == "decoder":
                out += _lin(f"{ours}.ln_x", f"{L}.encoder_attn_layer_norm") + _lin(f"{ours}.cross.q", f"{L}.encoder_attn.q_proj")
                out += _cat(f"{ours}.cross.kv", [f"{L}.encoder_attn.{p}_proj" for p in "kv"])
                out += _lin(f"{ours}.cross.out", f"{L}.encoder_attn.out_proj")
    return out


def to_ours(rule: Rule, theirs: dict[str, torch.Tensor]) -> torch.Tensor:
    parts = [theirs[n] for n in rule.theirs]
    if rule.op == "cat_pairs":
        back = torch.argsort(half_split_order(rule.heads, parts[0].shape[0]))
        return torch.cat([parts[0][back], parts[1][back], parts[2]], 0)
    if rule.op == "cat":
        return torch.cat(parts, 0)
    if rule.op == "row":
        return parts[0][0]
    return parts[0]


def to_theirs(rule: Rule, t: torch.Tensor) -> dict[str, torch.Tensor]:
    if rule.op == "cat_pairs":
        q, k, v = t.chunk(3, 0)
        order = half_split_order(rule.heads, q.shape[0])
        return dict(zip(rule.theirs, (q[order], k[order], v)))
    if rule.op == "cat":
        return dict(zip(rule.theirs, t.chunk(len(rule.theirs), 0)))
    if rule.op == "row":
        return {rule.theirs[0]: t[None]}
    return {rule.theirs[0]: t}


# ---- configs both ways -------------------------------------------------------------------------

def _esm_shape(c) -> dict:
    from maskbench.errors import MaskbenchError

    if getattr(c, "position_embedding_type", "absolute") != "rotary":
        raise MaskbenchError(f"this ESM model has {c.position_embedding_type} positions (ESM-1b), counted from its "
                             f"padding id: maskbench loads rotary ESM models (ESM-2)")
    if getattr(c, "token_dropout", False):
        raise MaskbenchError("this ESM model uses token dropout (its embeddings rescaled by the share of masked "
                             "tokens), which maskbench's encoder does not: load one with token_dropout=false")
    if getattr(c, "is_folding_model", False):
        raise MaskbenchError("this is an ESMFold model: maskbench loads ESM masked language models")
    return dict(name="hf-esm", d_model=c.hidden_size, n_layers=c.num_hidden_layers, n_heads=c.num_attention_heads,
                d_ff=c.intermediate_size, n_decoder_layers=None, max_positions=c.max_position_embeddings,
                mlm_transform=True, tie_embeddings=True, norm="pre", embed_norm=bool(c.emb_layer_norm_before),
                pos_offset=0, n_segments=0, ln_eps=float(c.layer_norm_eps), activation="gelu", scale_embedding=False,
                positions="rope", rope_theta=float(getattr(c, "rope_theta", 10000.0)))


def hf_names(fam: Family) -> dict:
    """model.* key -> the config.json key shape_from_hf reads it from (for refusals that name the user's file)."""
    if fam.encoder_only:
        return {"d_model": "hidden_size", "n_layers": "num_hidden_layers", "n_heads": "num_attention_heads",
                "d_ff": "intermediate_size", "max_positions": "max_position_embeddings", "ln_eps": "layer_norm_eps",
                "n_segments": "type_vocab_size", "rope_theta": "rope_theta"}
    return {"d_model": "d_model", "n_layers": "encoder_layers", "n_heads": "encoder_attention_heads",
            "d_ff": "encoder_ffn_dim", "n_decoder_layers": "decoder_layers", "max_positions": "max_position_embeddings"}


def shape_from_hf(fam: Family, c) -> dict:
    """maskbench model config (dict) for a transformers config of this family."""
    from maskbench.errors import MaskbenchError

    if fam.name == "esm":
        return _esm_shape(c)
    if fam.name == "roformer":
        if getattr(c, "rotary_value", False):
            raise MaskbenchError("this RoFormer model rotates its attention values too (rotary_value=true), which "
                                 "maskbench's attention does not")
        if (c.embedding_size or c.hidden_size) != c.hidden_size:
            raise MaskbenchError(f"this RoFormer model's embeddings ({c.embedding_size} wide) are narrower than its "
                                 f"layers ({c.hidden_size}): maskbench's encoder has one width")

    act_name = getattr(c, "hidden_act", None) or getattr(c, "activation_function", "gelu")
    if act_name not in _ACT_FROM_HF:
        raise MaskbenchError(f"activation {act_name} of this {fam.model_type} model is not supported: "
                             f"maskbench has {', '.join(_ACT_FROM_HF)}")
    act = _ACT_FROM_HF[act_name]
    width = c.hidden_size if fam.encoder_only else c.d_model
    heads = c.num_attention_heads if fam.encoder_only else c.encoder_attention_heads
    if not heads or width % heads:
        raise MaskbenchError(f"this {fam.model_type} model's config has {heads} attention heads for width {width}, "
                             f"which does not divide: the config does not belong to these weights")
    if fam.encoder_only:
        if fam.name == "electra" and c.embedding_size != c.hidden_size:
            raise MaskbenchError(f"this ELECTRA model's embeddings ({c.embedding_size} wide) are narrower than its "
                                 f"layers ({c.hidden_size}): maskbench's encoder has one width; use a discriminator "
                                 f"whose embedding_size equals hidden_size")
        offset = (int(c.pad_token_id) + 1) if fam.name == "roberta" else 0
        rotary = {"positions": "rope", "rope_theta": 10000.0} if fam.name == "roformer" else {}
        return dict(name=f"hf-{fam.name}", d_model=c.hidden_size, n_layers=c.num_hidden_layers,
                    n_heads=c.num_attention_heads, d_ff=c.intermediate_size, n_decoder_layers=None,
                    max_positions=c.max_position_embeddings - offset, mlm_transform=True, tie_embeddings=True,
                    norm="pre" if fam.name == "megatron_bert" else "post", embed_norm=fam.name != "megatron_bert",
                    pos_offset=offset, n_segments=c.type_vocab_size, ln_eps=float(c.layer_norm_eps),
                    activation=act, scale_embedding=False, **rotary)
    if (c.encoder_attention_heads, c.encoder_ffn_dim) != (c.decoder_attention_heads, c.decoder_ffn_dim):
        raise MaskbenchError("this model's encoder and decoder differ in heads or feed-forward width: "
                             "maskbench's encoder-decoder uses one of each")
    bart = fam.name == "bart"
    return dict(name=f"hf-{fam.name}", d_model=c.d_model, n_layers=c.encoder_layers, n_heads=c.encoder_attention_heads,
                d_ff=c.encoder_ffn_dim, n_decoder_layers=c.decoder_layers, max_positions=c.max_position_embeddings,
                mlm_transform=False, tie_embeddings=True, norm="post" if bart else "pre", embed_norm=bart,
                pos_offset=2 if bart else 0, n_segments=0, ln_eps=1e-5, activation=act,
                scale_embedding=bool(c.scale_embedding))


def hf_config(fam: Family, s: ModelShape, vocab, vocab_size: int):
    """The transformers config of this family for a maskbench model (dropouts as trained)."""
    import transformers

    act = _ACT_TO_HF[s.activation]
    if fam.name == "esm":
        return transformers.EsmConfig(
            vocab_size=vocab_size, hidden_size=s.d_model, num_hidden_layers=s.n_layers, num_attention_heads=s.n_heads,
            intermediate_size=s.d_ff, hidden_dropout_prob=s.dropout, attention_probs_dropout_prob=s.dropout,
            max_position_embeddings=s.max_positions, position_embedding_type="rotary", rope_theta=s.rope_theta,
            emb_layer_norm_before=s.embed_norm, token_dropout=False, mask_token_id=vocab.mask, pad_token_id=vocab.pad,
            layer_norm_eps=s.ln_eps, tie_word_embeddings=True, architectures=[fam.hf_class])
    if fam.name == "roformer":
        return transformers.RoFormerConfig(
            vocab_size=vocab_size, embedding_size=s.d_model, hidden_size=s.d_model, num_hidden_layers=s.n_layers,
            num_attention_heads=s.n_heads, intermediate_size=s.d_ff, hidden_act=act, hidden_dropout_prob=s.dropout,
            attention_probs_dropout_prob=s.dropout, max_position_embeddings=s.max_positions,
            type_vocab_size=max(s.n_segments, 1), layer_norm_eps=s.ln_eps, pad_token_id=vocab.pad, rotary_value=False,
            architectures=[fam.hf_class])
    if fam.encoder_only:
        cls = {"megatron_bert": transformers.MegatronBertConfig, "bert": transformers.BertConfig,
               "roberta": transformers.RobertaConfig, "electra": transformers.ElectraConfig}[fam.name]
        extra = {"embedding_size": s.d_model} if fam.name == "electra" else {}
        return cls(**extra,vocab_size=vocab_size, hidden_size=s.d_model, num_hidden_layers=s.n_layers,
                   num_attention_heads=s.n_heads, intermediate_size=s.d_ff, hidden_act=act,
                   hidden_dropout_prob=s.dropout, attention_probs_dropout_prob=s.dropout,
                   max_position_embeddings=s.max_positions + s.pos_offset, type_vocab_size=max(s.n_segments, 1),
                   layer_norm_eps=s.ln_eps, pad_token_id=vocab.pad, architectures=[fam.hf_class])
    cls = transformers.BlenderbotConfig if fam.name == "blenderbot" else transformers.BartConfig
    return cls(vocab_size=vocab_size, d_model=s.d_model, encoder_layers=s.n_layers, decoder_layers=s.decoder_layers,
               encoder_attention_heads=s.n_heads, decoder_attention_heads=s.n_heads, encoder_ffn_dim=s.d_ff,
               decoder_ffn_dim=s.d_ff, activation_function=act, max_position_embeddings=s.max_positions,
               dropout=s.dropout, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=s.scale_embedding,
               pad_token_id=vocab.pad, bos_token_id=vocab.bos, eos_token_id=vocab.eos,
               decoder_start_token_id=vocab.bos, forced_eos_token_id=None, forced_bos_token_id=None,
               encoder_no_repeat_ngram_size=0, no_repeat_ngram_size=0, tie_word_embeddings=True,
               architectures=[fam.hf_class])
