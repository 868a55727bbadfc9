"""A fine-tuned encoder as a transformers task class, where the head maps exactly.

| maskbench task model (encoder)                | transformers class (family MegatronBert / Bert / Roberta) |
|---|---|
| sentence or pair, `task.pooling=token`        | *ForSequenceClassification: pooler = our pooler, classifier = our head (RoBERTa: classifier.dense / out_proj) |
| tagging (label on each word's first sub-word) | *ForTokenClassification: classifier = our head; pipeline aggregation "first" reads the same sub-word |
| extractive QA                                 | *ForQuestionAnswering: qa_outputs = our head (start, end) |

What does not map, and why (the backbone is exported instead, with one line saying so):
- `task.pooling=mean`: transformers' sequence classifiers read the first token's state, not a mean;
- `task.probe_layer=K`: a probe of an inner layer; the task classes read the last layer;
- a rotary encoder (ESM, RoFormer): their task classes differ from maskbench's heads (segments, pooler);
- the encoder-decoder: our heads read the decoder fed the *unshifted* input (the sequence itself), while
  Bart/Blenderbot task classes shift it right first, so their outputs would differ.
"""

from __future__ import annotations

from pathlib import Path

import torch

from maskbench.batch import Batch
from maskbench.interop.hf_build import sample_text_ids
from maskbench.arch import arch_of

def why_not_exact(saved) -> str | None:
    """Why this task model has no exact transformers task class, or None if it has one."""
    kind, task = saved.kind, saved.task
    head = f"the {kind.name} head was not exported"
    if arch_of(saved.arch).has_decoder:
        return (f"{head}: the encoder-decoder's task heads read the decoder fed the input itself, while transformers' "
                f"task classes shift it right, so their outputs would differ; the folder holds the fine-tuned model "
                f"without its head")
    if saved.model.backbone.shape.rotary:
        return (f"{head}: transformers' rotary encoders have task classes of their own layout (ESM takes no segment "
                f"ids and has no QA class; RoFormer's classifier is dense + GELU, not a tanh pooler), which maskbench's "
                f"heads do not match; the folder holds the fine-tuned encoder without its head")
    if task.probe_layer is not None:
        return (f"{head}: it reads layer {task.probe_layer}, and transformers' task classes read the last layer; "
                f"the folder holds the encoder without the probe")
    if kind.sentence_level and kind.pooling() == "mean":
        return (f"{head}: task.pooling=mean averages every position, and transformers' sequence classifiers read the "
                f"first token; the folder holds the fine-tuned encoder without its head (fine-tune with "
                f"task.pooling=token for an exportable classifier)")
    return None


def build_task_export(ckpt: Path, transformers):
    """(Built, None) for a task model that maps exactly, else (None, the one-line reason)."""
    from maskbench.interop.hf_build import Built, load_exactly
    from maskbench.interop.families import family_for_shape, hf_config
    from maskbench.runs.task_model import load_task_model

    saved = load_task_model(ckpt, what="export")
    why = why_not_exact(saved)
    if why:
        return None, why
    model, s = saved.model, saved.model.backbone.shape
    fam = family_for_shape(saved.arch, s)
    family = fam.hf_class.replace("ForPreTraining", "").replace("ForMaskedLM", "")
    class_name = family + saved.kind.hf_suffix
    config = hf_config(fam, s, saved.vocab, saved.vocab.size)
    config.architectures = [class_name]
    if not saved.kind.hf_named_labels:
        config.num_labels = 2
    else:
        config.id2label = dict(enumerate(saved.labels))
        config.label2id = {label: i for i, label in enumerate(saved.labels)}
    hf = getattr(transformers, class_name)(config)
    load_exactly(hf, _task_state(model, fam, saved.kind, set(hf.state_dict())), fam)
    return Built(hf, class_name, fam, s, lambda m: task_difference(saved, m), []), None


def _task_state(model, fam, kind, wanted: set) -> dict:
    """transformers' names for the backbone (under the family's prefix) and the head."""
    from maskbench.interop.hf_build import their_state

    def weights(layer) -> dict:
        return {p: getattr(layer, p).detach().float().clone() for p in ("weight", "bias")}

    base, head = their_state(model.backbone, fam, with_heads=False), weights(model.head)
    out = {fam.prefix + k: v for k, v in base.items()}
    if kind.sentence_level and fam.name == "roberta":  # its head holds the pooler
        out.update({f"classifier.dense.{p}": t for p, t in weights(model.backbone.pooler[0]).items()})
        out.update({f"classifier.out_proj.{p}": t for p, t in head.items()})
    else:
        out.update({f"{kind.hf_head}.{p}": t for p, t in head.items()})
    return {k: v for k, v in out.items() if k in wanted or not k.startswith(fam.prefix + "pooler.")}


@torch.no_grad()
def task_difference(saved, hf) -> float:
    """Largest |maskbench - transformers| task output on a fixed sample of single inputs and pairs."""
    vocab = saved.vocab
    g = torch.Generator().manual_seed(0)
    a, b = (sample_text_ids(vocab, n, g) for n in (7, 5))
    cls, sep = torch.full((2, 1), vocab.cls), torch.full((2, 1), vocab.sep)
    single = torch.cat([cls, a, sep], 1)
    pair = torch.cat([cls, a, sep, b, sep], 1)
    pair_types = torch.cat([torch.zeros(2, 9, dtype=torch.long), torch.ones(2, 6, dtype=torch.long)], 1)
    if getattr(hf.config, "type_vocab_size", 2) < 2:  # RoBERTa: one segment
        pair_types = torch.zeros_like(pair)
    worst = 0.0
    for ids, types in ((single, torch.zeros_like(single)), (pair, pair_types)):
        ours = saved.model(Batch(input_ids=ids, labels=ids, token_type_ids=types)).float()
        got = hf(input_ids=ids, token_type_ids=types)
        theirs = saved.kind.hf_logits(got)
        worst = max(worst, float((ours - theirs).abs().max()))
    return worst
