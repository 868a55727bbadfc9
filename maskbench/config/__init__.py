"""Configuration, in one home; no torch here (`maskbench --help` and `config show` stay fast).

- compose.py: `conf/<root>.yaml` composed with Hydra and command-line overrides, the user's config folders,
  one-line errors; a config changed by copy (`with_changes`), its YAML form and run-name hash;
- typed.py: a composed config merged into its schemas and checked, one line per refusal;
- schema/: one frozen dataclass per config group, objective and task kind, checks beside the fields; the whole
  config typed (schema/root.py: PretrainConfig, FinetuneConfig); which class a corruption node is (objectives.py).

The package's interface is compose.py's public names, imported from here (`from maskbench.config import
load_config, with_changes, config_hash`). They load on first use, so that importing config.schema, which the task
kinds build on from the layer below theirs (tests/test_layers.py), loads nothing above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [
    "CONF_DIR",
    "GROUPS",
    "as_dict",
    "available_groups",
    "config_hash",
    "config_sources",
    "group_options",
    "load_config",
    "option_file",
    "root_for",
    "runtime_overrides",
    "science_dict",
    "to_yaml",
    "user_config_dirs",
    "validate_config",
    "with_changes",
]

if TYPE_CHECKING:
    from maskbench.config.compose import (
        CONF_DIR,
        GROUPS,
        as_dict,
        available_groups,
        config_hash,
        config_sources,
        group_options,
        load_config,
        option_file,
        root_for,
        runtime_overrides,
        science_dict,
        to_yaml,
        user_config_dirs,
        validate_config,
        with_changes,
    )


def __getattr__(name: str):
    if name in __all__:
        import importlib

        value = getattr(importlib.import_module("maskbench.config.compose"), name)
        globals()[name] = value  # once: later look-ups find it here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
