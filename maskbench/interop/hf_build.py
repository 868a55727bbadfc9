"""A maskbench model as a transformers model: its tensors under transformers' names (families.py's rules), loaded
so that they must cover the transformers model exactly, and what an export carries (`Built`). Shared by the
export of pretrained models (export.py), fine-tuned task models (task_export.py) and ELECTRA (electra_export.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from maskbench.errors import MaskbenchError
from maskbench.interop.families import Family, rules, to_theirs
from maskbench.arch import arch_of


def their_state(model, fam: Family, with_heads: bool) -> dict[str, torch.Tensor]:
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for rule in rules(fam, model.shape):
        if not with_heads and rule.ours.startswith(("lm_head", "nsp_head")):
            continue
        if with_heads and not fam.pooler_in_head_class and rule.ours.startswith("pooler."):
            continue
        t = ours[rule.ours].detach().float().clone()
        out.update(to_theirs(rule, t))
    _fold_segments(model, fam, out, with_heads)
    if fam.encoder_only and fam.name != "esm" and model.encoder.seg is None:
        # BERT-like classes always add a token type; a model without segments gets one that adds nothing.
        out[f"{fam.prefix}embeddings.token_type_embeddings.weight"] = torch.zeros(1, model.shape.d_model)
    for alias, source in fam.tied:
        if source in out:
            out[alias] = out[source]
    if not with_heads:  # a base model: no head prefix
        out = {k[len(fam.prefix):]: v for k, v in out.items() if k.startswith(fam.prefix)}
    return out


def _fold_segments(model, fam: Family, out: dict, with_heads: bool) -> None:
    """maskbench adds segment 0 to every position of an input given no segment ids. The encoder-decoder
    classes have no segment embedding: fold segment 0 into the encoder's positions (exact for inputs
    without segments, i.e. all of BART's). ESM has neither segments nor positions: segment 0 goes into every
    word embedding, which only a model without a tied MLM head can take. Legacy encoders added no segment
    then: shift the table so that transformers' default segment 0 adds nothing."""
    enc = model.encoder
    if enc.seg is None:
        return
    seg0 = enc.seg.weight.detach().float()[0]
    if fam.name == "esm":
        if with_heads:
            raise MaskbenchError(f"ESM, transformers' pre-LN rotary encoder, has no segment embeddings, and this "
                                 f"model adds one at every position (model.n_segments={model.shape.n_segments}) "
                                 f"that its tied MLM head cannot absorb: export needs model.n_segments=0")
        out[f"{fam.prefix}embeddings.word_embeddings.weight"] += seg0
        return
    if arch_of(fam.arch).has_decoder:
        if enc.segments_when_absent:
            name = next(r.theirs[0] for r in rules(fam, model.shape) if r.ours == "encoder.pos.weight")
            out[name] = out[name] + seg0
    elif not enc.segments_when_absent:
        name = next(r.theirs[0] for r in rules(fam, model.shape) if r.ours == "encoder.seg.weight")
        out[name] = out[name] - seg0


@dataclass
class Built:
    """A transformers model filled with maskbench's weights, and how to check a copy of it."""
    hf: object
    class_name: str
    fam: Family
    shape: object
    difference: Callable  # transformers model -> largest |maskbench - transformers| output difference
    notes: list
    # more models written into subfolders of the export: (name, model, class name, difference)
    subfolders: list = field(default_factory=list)


def load_exactly(hf, theirs: dict, fam: Family) -> None:
    """Load a state dict that must cover the transformers model exactly (a gap is a maskbench bug); the tensors
    transformers computes itself (`fam.own`) keep the values of the freshly built model."""
    fresh = hf.state_dict()
    theirs = dict(theirs) | {k: v for k, v in fresh.items() if k.endswith(fam.own) and fam.own}
    missing = set(fresh) - set(theirs)
    unexpected = set(theirs) - set(hf.state_dict())
    if missing or unexpected:
        raise MaskbenchError(f"internal: export of {fam.name} misses {sorted(missing)[:3]} / has extra "
                             f"{sorted(unexpected)[:3]}; please report it")
    hf.load_state_dict(theirs, strict=True)
    hf.eval()


def sample_text_ids(vocab, length: int, generator: torch.Generator) -> torch.Tensor:
    """[2, length] text ids drawn from `generator`: the fixed sample every export check compares outputs on."""
    pool = vocab.text_ids()
    return pool[torch.randint(len(pool), (2, length), generator=generator)]
