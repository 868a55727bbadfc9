"""The shape of a model, read once from its config: sizes plus the variant switches that let one code
base build maskbench's own pre-LN models and the public families it imports (BERT, RoBERTa, BART).

| switch | maskbench default | BERT | RoBERTa | BART |
|---|---|---|---|---|
| norm | pre (final LayerNorm) | post | post | post |
| embed_norm | false | true | true | true (both sides) |
| pos_offset | 0 | 0 | 2 | 2 |
| n_segments | 2 | 2 | 1 | 0 |
| ln_eps | 1e-5 | 1e-12 | 1e-5 | 1e-5 |
| activation | gelu (exact) | gelu | gelu | gelu |

Configs written before these switches existed lack them and get the defaults; such a model also added
no segment embedding when it was given no segment ids (`legacy_segments`), which is kept so that old
checkpoints compute exactly what they computed when they were trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from maskbench.config.schema.fields import schema_node
from maskbench.config.schema.model import ModelConfig


@dataclass(frozen=True)
class ModelShape(ModelConfig):
    """The `model` group's schema (maskbench/config/schema/model.py: fields, defaults, types) as the models read it,
    plus one fact about configs written before the layout switches: `legacy_segments`."""
    legacy_segments: bool = False

    @classmethod
    def from_cfg(cls, m) -> "ModelShape":
        """From a `model` config group (typed or read back from an old config.yaml), a dict or a ModelConfig.
        Checked as a composed config is (types, bounds, choices, the cross-field checks): a run's config.yaml
        edited by hand, a task.json or a transformers config.json may hold what no command line could give
        (model.n_heads: 0 divided by zero; model.positions: rotary built a learned table). A refusal is one
        MaskbenchError line naming the model.* key; runs/source.py says which file it came from."""
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        from maskbench.errors import MaskbenchError
        from maskbench.config.schema.fields import check_fields

        if isinstance(m, ModelShape):
            return m
        if dataclasses.is_dataclass(m):
            m = dataclasses.asdict(m)
        elif OmegaConf.is_config(m):
            m = OmegaConf.to_container(m)
        if not isinstance(m, dict):
            raise MaskbenchError(f"the model config is {type(m).__name__}, not a set of model.* keys")
        known = {f.name for f in dataclasses.fields(ModelConfig)}
        given = {k: v for k, v in m.items() if k in known}
        try:
            typed = OmegaConf.to_object(OmegaConf.merge(schema_node(ModelConfig), given))
        except OmegaConfBaseException as exc:  # a value of another type ('abc' for an integer, a list)
            from maskbench.config.typed import _wrong_type

            key = str(getattr(exc, "full_key", None) or getattr(exc, "key", None) or "")
            if key not in given:
                raise MaskbenchError(f"the model config cannot be read ({str(exc).splitlines()[0][:120]})") from None
            raise _wrong_type("model", ModelConfig, OmegaConf.create(given), key) from None
        check_fields(typed, "model.")
        typed.check()
        return cls(**dataclasses.asdict(typed), legacy_segments=given.get("norm") is None)
