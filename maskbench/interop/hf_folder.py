"""A transformers model folder (config.json + weights + tokenizer) as a maskbench starting point.

BERT, RoBERTa, MegatronBERT (encoder) and BART, Blenderbot (encoder-decoder) folders load into the
maskbench model of the same layout (maskbench/models/shape.py), so their logits are transformers'
own; maskbench's exports are MegatronBERT / Blenderbot folders and come back exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from maskbench.errors import MaskbenchError
from maskbench.interop.families import BY_MODEL_TYPE, Family, check_computed_tables, rules, to_ours
from maskbench.arch import arch_of


def is_hf_folder(path: Path) -> bool:
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        config = json.loads(cfg.read_text())
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(config, dict) and "model_type" in config


def read_family(folder: Path) -> tuple[Family, object]:
    """(family, transformers config) of a folder, or one line naming the supported families."""
    from maskbench.interop import hf_load, require_transformers

    transformers = require_transformers()
    model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    fam = BY_MODEL_TYPE.get(model_type)
    if fam is None:
        raise MaskbenchError(f"{folder} holds a '{model_type}' model: maskbench loads "
                             f"{', '.join(sorted(BY_MODEL_TYPE))} folders")
    config = hf_load(transformers.AutoConfig.from_pretrained, folder,
                     f"{folder}/config.json could not be read by transformers")
    if arch_of(fam.arch).encoder_only and getattr(config, "is_decoder", False):
        raise MaskbenchError(f"{folder} is configured as a causal decoder (is_decoder=true): maskbench's encoder "
                             f"attends both ways and would compute something else")
    return fam, config


def _state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """The folder's tensors as saved (safetensors, sharded or not; else a weights-only torch file)."""
    from safetensors.torch import load_file

    index = folder / "model.safetensors.index.json"
    if (folder / "model.safetensors").exists():
        files = [folder / "model.safetensors"]
    elif index.exists():
        files = _shards(index)
    elif (folder / "pytorch_model.bin").exists():
        return _torch_weights(folder / "pytorch_model.bin")
    else:
        raise MaskbenchError(f"{folder} has config.json but no weights (model.safetensors or pytorch_model.bin)")
    out = {}
    for f in files:
        try:
            out.update(load_file(str(f)))
        except Exception as exc:
            raise MaskbenchError(f"{f} is not a readable safetensors file ({str(exc)[:100]}): "
                                 f"download or save the model again") from None
    return out


def _shards(index: Path) -> list[Path]:
    """The shard files a model.safetensors.index.json names (its weight_map: tensor name -> file)."""
    try:
        weight_map = json.loads(index.read_text()).get("weight_map")
    except (ValueError, AttributeError):
        weight_map = None
    if not isinstance(weight_map, dict) or not weight_map or not all(isinstance(f, str) for f in weight_map.values()):
        raise MaskbenchError(f"{index} has no weight_map naming the shard of each tensor: save the model again "
                             f"(save_pretrained), or put its weights in model.safetensors")
    files = sorted({index.parent / f for f in weight_map.values()})
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise MaskbenchError(f"{index} names shard {missing[0]}, which is not in the folder: download the missing "
                             f"shards, or save the model again")
    return files


def _torch_weights(path: Path) -> dict:
    """A pytorch_model.bin read weights-only: a pickle in it never runs code. Whatever fails is one line of
    ours; torch's own message is not passed on, as it suggests weights_only=False (running the file's code)."""
    import pickle
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise MaskbenchError(f"{path} holds objects other than tensors, or is not a torch file at all (refused; "
                             f"nothing in it was run): use a model saved as model.safetensors, or download it "
                             f"again") from None
    except Exception as exc:  # truncated zip, not a torch file, an unknown storage type
        raise MaskbenchError(f"{path} is not a readable torch weights file ({type(exc).__name__}): download or save "
                             f"the model again (as model.safetensors)") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MaskbenchError(f"{path} is not a state dict of tensors: save the model again (save_pretrained)")
    return state


def _normalise(theirs: dict, fam: Family) -> dict:
    """Old LayerNorm names (gamma/beta) and base-model folders (no 'bert.' prefix) in one spelling."""
    out = {}
    for k, v in theirs.items():
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        out[k] = v.float()
    if fam.prefix and not any(k.startswith(fam.prefix) for k in out):
        heads = ("cls.", "lm_head.", "final_logits_bias")
        out = {k if k.startswith(heads) else fam.prefix + k: v for k, v in out.items()}
    for alias, source in fam.tied:  # a tied tensor may have been saved under either name
        if source not in out and alias in out:
            out[source] = out[alias]
    return out


_LAYER = re.compile(r"^(.*?)\.(layers?)\.(\d+)\.")


def _check_layer_counts(theirs: dict, layout: list, folder: Path) -> None:
    """A folder whose weights hold more layers than its config.json builds (num_hidden_layers lowered, or the
    config of a smaller model) would load the first ones and leave the rest unread: a different model, silently."""
    def deepest(names) -> dict:
        out: dict[str, int] = {}
        for name in names:
            m = _LAYER.match(name)
            if m:
                out[m.group(1)] = max(out.get(m.group(1), -1), int(m.group(3)))
        return out

    read = deepest(n for rule in layout for n in rule.theirs)
    for stack, last in deepest(theirs).items():
        if stack in read and last > read[stack]:
            raise MaskbenchError(f"{folder}: its weights hold {last + 1} layers in {stack}, and its config.json builds "
                                 f"{read[stack] + 1}: the config does not belong to these weights; save the model "
                                 f"again (model.save_pretrained) or fix its layer count")


def load_hf_weights(model, folder: Path, fam: Family) -> None:
    """Copy a transformers folder's weights into a maskbench model of the matching shape."""
    theirs = _normalise(_state_dict(folder), fam)
    for alias, source in fam.tied:  # maskbench ties output and input embeddings: an untied pair cannot be kept
        if alias.endswith("weight") and alias in theirs and source in theirs \
                and not torch.equal(theirs[alias], theirs[source]):
            raise MaskbenchError(f"{folder}: its output layer '{alias}' is not tied to its input embedding "
                                 f"(tie_word_embeddings=false); maskbench's models tie them and cannot hold it exactly")
    check_computed_tables(fam, theirs, model.shape, folder)
    _check_layer_counts(theirs, rules(fam, model.shape), folder)
    own = model.state_dict()
    new = {}
    untrained = set()
    for rule in rules(fam, model.shape):
        if rule.ours not in own:  # a pretraining-only head (ELECTRA's replaced-token head) a plain encoder lacks
            continue
        if not all(n in theirs for n in rule.theirs):
            if rule.optional:
                # A head this folder lacks keeps maskbench's random initialisation. BART's final_logits_bias is a
                # zero buffer, not a trained head: without it the tied projection is the whole head.
                if not (arch_of(fam.arch).has_decoder and rule.ours == "lm_head.bias"):
                    untrained.add(rule.ours.split(".")[0])
                continue
            missing = next(n for n in rule.theirs if n not in theirs)
            raise MaskbenchError(f"{folder} lacks weight '{missing}': it is not a complete {fam.model_type} model")
        t = to_ours(rule, theirs)
        target = own[rule.ours]
        if t.shape != target.shape:
            # The vocabulary is the tokenizer's: rows past it (padding to a round size) are never used;
            # ids maskbench added (T5 sentinels) keep their initialisation.
            vocab_rows = rule.ours in ("encoder.tok.weight", "lm_head.bias") and t.shape[1:] == target.shape[1:]
            if not vocab_rows:
                raise MaskbenchError(f"{folder}: weight for '{rule.ours}' has shape {tuple(t.shape)}, the model "
                                     f"built from its config expects {tuple(target.shape)}")
            t = torch.cat([t, target[t.shape[0]:]]) if t.shape[0] < target.shape[0] else t[:target.shape[0]]
        new[rule.ours] = t
    model.load_state_dict(new, strict=False)
    if fam.name == "electra" and hasattr(model, "lm_head"):  # a discriminator has no MLM head at all
        untrained.add("lm_head")
    # Heads left at random initialisation: fill and export refuse to use them as if trained.
    model.untrained_heads = tuple(sorted(untrained))
