"""A composed config merged into its typed schemas (maskbench/config/schema/) and checked, before any work.

`typed_config` gives every value its declared type (no hand casting downstream); a wrong type or value is one
line naming the key, the value and what is allowed; a key the schema does not have (in a user's own YAML too)
names the nearest one. The corruption schema is picked by `corruption.family`, the task schema by `task.kind`
(the kinds' registry, maskbench/tasks/, is torch-free at import). No torch here: `config show` stays fast.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing

from maskbench.errors import MaskbenchError
from maskbench.config.schema import GROUP_SCHEMAS
from maskbench.config.schema.corruption import FAMILIES
from maskbench.config.schema.objectives import check_arch, objective_class, objective_code
from maskbench.config.schema.data import INFILL_ROOM
from maskbench.config.schema.fields import INT_LIMIT, check_fields, is_int, schema_node
from maskbench.config.schema.root import Config, FinetuneConfig, PretrainConfig
from maskbench.config.schema.train import FinetuneTrainConfig, TrainConfig
from maskbench.tasks import KINDS, task_kind

ROOT_VALUES = ("seed", "init")  # the root's own values; everything else at the root is a group
OPTIONAL_GROUPS = ("sweep",)    # a fine-tuning has a sweep group only where a preset for both sets it
_registered = False


def register() -> None:
    """Store every schema in Hydra's ConfigStore, e.g. `schema/model/default` or `schema/corruption/bart`, so a
    user's YAML can extend one (`defaults: [/schema/model/default@_here_, _self_]`). Once per process: the store
    outlives Hydra's global state, which load_config clears every time."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group, cls in {**GROUP_SCHEMAS, "train": TrainConfig}.items():
        cs.store(group=f"schema/{group}", name="default", node=schema_node(cls))
    cs.store(group="schema/train", name="finetune", node=schema_node(FinetuneTrainConfig))
    for family, cls in FAMILIES.items():
        cs.store(group="schema/corruption", name=family, node=schema_node(cls))
    for name, kind in KINDS.items():
        cs.store(group="schema/task", name=name, node=schema_node(kind.schema))
    _registered = True


def schema_of(group: str, node, cfg) -> type:
    """The schema class of one group of `cfg`."""
    if group == "train":
        return FinetuneTrainConfig if "task" in cfg or "subset_min_steps" in node else TrainConfig
    if group == "corruption":
        return objective_class(node)
    if group == "task":
        return task_kind(node.get("kind")).schema
    return GROUP_SCHEMAS[group]


def typed_config(cfg) -> "Config":
    """`cfg` (a composed DictConfig) with every group merged into its schema and checked: the typed config
    object (config/schema/root.py), `FinetuneConfig` where it has a task, else `PretrainConfig`."""
    root = FinetuneConfig if "task" in cfg else PretrainConfig
    fields = {f.name for f in dataclasses.fields(root)}
    objects = {}
    for group in cfg:
        node = cfg[group]
        if group not in fields:  # e.g. compare options given to pretraining
            raise _unknown_key("", root, str(group))
        if node is None and group == "sweep":  # a fine-tuning's sweep group is optional
            continue
        if group not in ROOT_VALUES:
            objects[group] = typed_group(group, node, cfg)
    needed = "task" if root is FinetuneConfig else "corruption"
    if needed not in objects:
        raise MaskbenchError(f"the config has no {needed}: choose one with {needed}=NAME (see `maskbench config list "
                             f"{needed}`)")
    # A group removed with ~GROUP would be refilled from the schema's defaults, which are not the command's own
    # (conf/pretrain.yaml, conf/finetune.yaml): refused as the corruption or task is.
    removed = [f.name for f in dataclasses.fields(root) if f.name not in ROOT_VALUES and f.name not in objects
               and f.name not in OPTIONAL_GROUPS]
    if removed:
        raise MaskbenchError(f"the config has no {removed[0]} group (removed with ~{removed[0]}?): choose one with "
                             f"{removed[0]}=NAME (see `maskbench config list {removed[0]}`) or change its keys "
                             f"with {removed[0]}.KEY=VALUE")
    _check_root(cfg)
    _check_across(objects)
    init = cfg.get("init", root().init)
    return root(seed=int(cfg.get("seed", 0)), init=None if init is None else str(init), **objects)


def typed_group(group: str, node, cfg=None):
    """One group merged into its schema and checked: its schema object. `cfg`: the whole composed config it is
    part of (None for a group read alone, e.g. a task.json's task)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError, ConfigTypeError, MissingMandatoryValue, ValidationError

    if node is None or not hasattr(node, "keys"):
        raise MaskbenchError(f"config group '{group}' is {node}, not a set of options: choose one with {group}=NAME, "
                             f"or set its keys ({group}.KEY=VALUE)")
    cls = schema_of(group, node, cfg if cfg is not None else {})
    try:
        merged = OmegaConf.merge(schema_node(cls), node)
    except ConfigKeyError as exc:
        raise _unknown_key(group, cls, str(exc.key)) from None
    except ValidationError as exc:
        raise _wrong_type(group, cls, node, str(exc.full_key or exc.key)) from None
    except ConfigTypeError:  # a mapping where a list belongs, or back: OmegaConf does not say which key
        raise _wrong_type(group, cls, node, _mismatched_container(schema_node(cls), node)) from None
    kind = task_kind(merged.kind) if group == "task" else None
    if kind is not None:  # a kind's format and metric default to its first
        merged = OmegaConf.merge(merged, {"format": merged.format or kind.formats[0],
                                          "metric": merged.metric or kind.metrics[0]})
    try:
        obj = OmegaConf.to_object(merged)
    except MissingMandatoryValue as exc:  # a required key removed with ~group.KEY (or left as ???)
        key = f"{group}.{exc.full_key}"
        raise MaskbenchError(f"{key} has no value (removed with ~{key}?): give it one with {key}=VALUE") from None
    _check_object(obj, f"{group}.")
    if kind is not None:
        obj.check(kind)
    elif hasattr(obj, "check"):
        with objective_code(obj, "check()"):  # a user's objective's own check: its exception names it
            obj.check()
    return obj


def _check_object(obj, prefix: str) -> None:
    check_fields(obj, prefix)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _check_object(value, f"{prefix}{f.name}.")


def _field_type(cls, path: str):
    tp = cls
    for part in path.split("."):
        hints = typing.get_type_hints(tp) if dataclasses.is_dataclass(tp) else {}
        tp = hints.get(part, typing.Any)
    return tp


def _describe(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin is typing.Union and len(args) == 1:
        return _describe(args[0]) + " (or null)"
    if origin in (list, typing.List):
        return "a list"
    if origin in (dict, typing.Dict):
        return "a mapping, e.g. {name: value}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(tp, "of another type")


def _mismatched_container(schema, node) -> str:
    """The key (dotted) of `node` that holds a mapping where `schema` has a list, or a list where it has a mapping
    or a plain value."""
    from omegaconf import OmegaConf

    for key in node:
        want, got = schema.get(key), node[key]
        if OmegaConf.is_dict(want) and OmegaConf.is_dict(got):
            inner = _mismatched_container(want, got)
            if inner:
                return f"{key}.{inner}"
        elif OmegaConf.is_config(want) or OmegaConf.is_config(got):
            if OmegaConf.is_dict(want) != OmegaConf.is_dict(got) or OmegaConf.is_list(want) != OmegaConf.is_list(got):
                return str(key)
    return ""


def _wrong_type(group: str, cls, node, key: str) -> MaskbenchError:
    from omegaconf import OmegaConf

    value = OmegaConf.select(node, key, default=None)
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    wanted = _describe(_field_type(cls, key))
    if wanted == "a list":
        return MaskbenchError(f"{group}.{key}={value} must be a list: write {group}.{key}=[{value}]")
    return MaskbenchError(f"{group}.{key}={value} must be {wanted}")


def _unknown_key(group: str, cls, key: str) -> MaskbenchError:
    """`group` "" for a key at the root."""
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
    at = f"{group}." if group else ""
    hint = f" (did you mean {at}{close[0]}?)" if close else ""
    where = f"the keys of '{group}'" if group else "valid keys"
    return MaskbenchError(f"unknown config option '{at}{key}'{hint}: see `maskbench config show` for {where}")


def _check_root(cfg) -> None:
    seed = cfg.get("seed", 0)
    if not is_int(seed) or not 0 <= seed < INT_LIMIT:
        raise MaskbenchError(f"seed={seed if not is_int(seed) or seed < 10 ** 30 else '(a huge number)'} must be an "
                             f"integer in [0, 2**63)")
    init = cfg.get("init")
    if init is not None and str(init).startswith("-"):
        raise MaskbenchError(f"init={init} is not a folder: give a run folder, a transformers model folder or "
                             f"init=scratch")


def _check_across(objects: dict) -> None:
    """Checks that span groups (on the checked schema objects): corruption against the architecture, blocks
    against the model's positions, T5's sentinels against the vocabulary's."""
    m, d = objects.get("model"), objects.get("data")
    if m is not None and d is not None and d.seq_len + INFILL_ROOM > m.max_positions:
        raise MaskbenchError(f"data.seq_len={d.seq_len} needs model.max_positions >= {d.seq_len + INFILL_ROOM} "
                             f"(now {m.max_positions})")
    c = objects.get("corruption")
    if c is None:
        return
    check_arch(c, objects["arch"].name)
    if d is not None:
        with objective_code(c, "check_data()"):
            c.check_data(d)
