"""Compose configs (Hydra compose API; never changes the working directory) and check them into their typed,
frozen form (config/typed.py -> config/schema/root.py); change one by copy (`with_changes`); its YAML form
and run-name hash.

No torch here: `maskbench --help` and `config show` stay fast.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
from pathlib import Path

from maskbench.errors import FinetunePreset, MaskbenchError

CONF_DIR = Path(__file__).parents[1] / "conf"  # maskbench/conf
GROUPS = ("corruption", "arch", "model", "data", "train", "runtime", "run", "experiment", "task")
# Keys that change how a run executes but not its science: left out of the run-name hash so that
# `train.resume=true` or `runtime.device=cuda` finds the same run folder.
_NON_SCIENCE = ("runtime", "run", "sweep")  # sweep: which fine-tunings follow does not change the pretraining
_NON_SCIENCE_TRAIN = ("resume", "eval_every", "ckpt_every", "keep_checkpoints", "log_every")
# compare.zero_shot adds a measurement of the pretrained model beside the fine-tunings: it changes none of them, so a
# compare folder (and its finished runs) is the same with or without it
_NON_SCIENCE_COMPARE = ("zero_shot",)
# Keys added after runs were named, left out of the hash at the value that computes what runs before them
# computed: a learned-position run keeps the folder name it always had.
_HASHED_UNLESS = {"model": {"positions": "learned"}, "corruption": {"objective": None}}
_ONLY_WITH = {"model": {"rope_theta": ("positions", "rope")}}  # meaningless (and unhashed) otherwise


def user_config_dirs() -> list[Path]:
    """Folders of the user's own configs, searched besides the packaged ones: $MASKBENCH_CONFIG_DIR (set by
    `maskbench --config-dir DIR`) and ./conf, so that conf/experiment/mine.yaml gives experiment=mine."""
    import os

    dirs = [Path(os.environ["MASKBENCH_CONFIG_DIR"]).expanduser()] if os.environ.get("MASKBENCH_CONFIG_DIR") else []
    dirs.append(Path.cwd() / "conf")
    return [d.resolve() for d in dirs if d.is_dir() and d.resolve() != CONF_DIR.resolve()]


def group_options(group: str) -> list[str]:
    """The config names a group offers (packaged and the user's own), e.g. group_options('corruption')."""
    folders = [d / group for d in [CONF_DIR, *user_config_dirs()] if (d / group).is_dir()]
    if not folders:
        raise MaskbenchError(f"unknown config group '{group}': choose one of {', '.join(available_groups())}")
    return sorted({p.stem for f in folders for p in f.glob("*.yaml")})


def option_file(group: str, name: str) -> Path | None:
    """The YAML file of option `name` of `group` where composition finds it (--config-dir, ./conf, then the packaged
    configs: a user's config of the same name wins), or None."""
    return next((f for folder in [*user_config_dirs(), CONF_DIR] if (f := folder / group / f"{name}.yaml").exists()),
                None)


def config_sources(cfg, overrides: list[str] = ()) -> dict[str, str]:
    """group -> the YAML file its option came from, in the search order (--config-dir, ./conf, then the
    packaged configs: a user's config of the same name wins). The experiment preset, listed first, may set
    values over any group."""
    out = {}
    for group in ("experiment",) + GROUPS:
        name = getattr(getattr(cfg, group, None), "name", None)
        if group == "experiment":
            name = next((ov.partition("=")[2] for ov in overrides if ov.startswith("experiment=")), None)
        found = option_file(group, name) if name else None
        if found is not None:
            out[group] = str(found)
    return out


def root_for(overrides: list[str]) -> str:
    """`finetune` when the overrides name a task, compare options or an init for fine-tuning, else `pretrain`."""
    heads = {ov.lstrip("+~").partition("=")[0].split(".")[0] for ov in overrides}
    return "finetune" if heads & {"task", "compare"} else "pretrain"


def _check_presets_exist(overrides: list[str]) -> None:
    """Hydra skips an `optional` group whose option is missing, so `experiment=debugg` would silently run the
    defaults: every group option named on the command line must exist (the nearest name is suggested)."""
    import difflib
    import os

    given = os.environ.get("MASKBENCH_CONFIG_DIR")
    if given and not Path(given).expanduser().is_dir():
        raise MaskbenchError(f"--config-dir {given} is not a folder: give the folder that holds your experiment/, "
                             f"model/, ... folders")
    for ov in overrides:
        key, eq, value = ov.lstrip("+").partition("=")
        if not eq or "." in key or key not in available_groups() or value in ("", "null"):
            continue
        options = group_options(key)
        if value not in options:
            near = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
            hint = f"did you mean {key}={near[0]}? " if near else ""
            raise MaskbenchError(f"unknown {key} '{value}': {hint}choose one of {', '.join(options)}")


def available_groups() -> list[str]:
    return sorted({p.name for d in [CONF_DIR, *user_config_dirs()] for p in d.iterdir() if p.is_dir()})


def _check_sweep_syntax(overrides: list[str]) -> None:
    for ov in overrides:
        key, _, value = ov.partition("=")
        if "," in value and not value.strip().startswith(("[", "'", '"', "{")):
            raise MaskbenchError(
                f"'{ov}' is sweep syntax: run a grid with `maskbench sweep {ov} ...`, "
                f"or pass a list as {key}=[{value}]"
            )


def _nearest_key(key: str, root: str) -> str:
    """' (did you mean train.max_steps?)' for a misspelled key, from the keys the root config has."""
    import difflib

    from omegaconf import OmegaConf

    try:
        base = load_config([], root=root, validate=False)
    except MaskbenchError:
        return ""

    def flat(d, prefix=""):
        for k, v in d.items():
            yield f"{prefix}{k}"
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
    keys = list(flat(OmegaConf.to_container(base)))
    head, _, leaf = key.rpartition(".")
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == head}
    close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.7) or \
        difflib.get_close_matches(key, keys, n=1, cutoff=0.85)
    return f" (did you mean {siblings.get(close[0], close[0])}?)" if close else ""


def _translate_hydra_error(exc: Exception, overrides: list[str], root: str = "pretrain") -> MaskbenchError:
    """What Hydra raised while composing, as one line. The facts come from the exception objects where Hydra and
    OmegaConf keep them (a missing option's config path; the key a YAML adds to a schema it extends); only the key
    of "Could not override" is read from Hydra's message, which is the one place that holds it (see below)."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    msg = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:  # Hydra looked the key up as a file
        key = next((ov.split("=")[0] for ov in overrides if len(ov.split("=")[0]) > 200), "?")
        return MaskbenchError(f"unknown config option '{key[:40]}…' ({len(key):,} characters): see "
                              f"`maskbench config show` for valid keys")
    # A group option that is not there, named by a preset or a user's YAML (the command line's are checked before
    # composing): Hydra gives its config path, GROUP/OPTION. `options` is None where the missing file is not a
    # group's option (a YAML's `defaults: [/some/file]`), which stays the general line below.
    if isinstance(exc, MissingConfigException) and exc.options is not None and "/" in (exc.missing_cfg_file or ""):
        group, _, value = exc.missing_cfg_file.rpartition("/")
        opts = ", ".join(group_options(group)) if (CONF_DIR / group).is_dir() else ""
        return MaskbenchError(f"unknown {group} '{value}': choose one of {opts}")
    # Hydra keeps the key of an override it could not apply only in this message: ConfigCompositionException has no
    # attributes; the defaults-list variant (a group override no default takes, e.g. a fine-tuning preset's
    # `override /task` composed for pretraining) chains nothing; and the OmegaConf error chained to the value
    # variant names the first missing node (`compare` for compare.seeds=1 given to pretraining), not the key given.
    m = re.search(r"Could not override '([^']+)'", msg)
    if m:
        key = m.group(1)
        head = key.split(".")[0]
        preset = next((ov.partition("=")[2] for ov in overrides if ov.startswith("experiment=")), None)
        user_set = any(ov.lstrip("+~").split("=")[0].split(".")[0] == head for ov in overrides)
        if preset and head in ("task", "compare") and not user_set:  # a fine-tuning preset given to pretrain
            return FinetunePreset(f"experiment={preset} is a fine-tuning preset (it sets {head}): run "
                                  f"`maskbench compare experiment={preset}` or `maskbench finetune experiment={preset}`")
        hint = f"see `maskbench config show` for the keys of '{head}'" if head in GROUPS else (
            "see `maskbench config show` for valid keys")
        return MaskbenchError(f"unknown config option '{key}'{_nearest_key(key, root)}: {hint}")
    # A key that a YAML adds to a schema it extends (`defaults: [/schema/model/default@_here_]`): Hydra chains
    # OmegaConf's error (implicitly: raised while handling it), whose full_key is the key from the config's root.
    chained = exc.__cause__ or exc.__context__
    if isinstance(chained, (ConfigKeyError, ConfigAttributeError)) and chained.full_key:
        key = str(chained.full_key)
        return MaskbenchError(f"unknown config option '{key}'{_nearest_key(key, root)}: see `maskbench config show`")
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    return MaskbenchError(f"bad config override ({first}): overrides look like key=value or group=option")


def _initialize_hydra(user_dirs: list[Path]) -> None:
    """Hydra's search path with the user's folders *before* the packaged configs, so conf/experiment/demo.yaml
    replaces the packaged demo (hydra.searchpath would only append them). This is what initialize_config_dir
    does, plus the prepends; Hydra's search-path type is internal, hence the narrow use."""
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path

    version.setbase(None)
    search = create_config_search_path(search_path_dir=str(CONF_DIR))
    for folder in reversed(user_dirs):
        search.prepend(provider="maskbench-user", path=f"file://{folder}")
    Hydra.create_main_hydra2(task_name="maskbench", config_search_path=search)


def load_config(overrides: list[str] | None = None, root: str = "pretrain", validate: bool = True):
    """Compose `conf/<root>.yaml` with command-line style overrides; check it; return the typed config
    (`PretrainConfig` or `FinetuneConfig`, maskbench/config/schema/root.py). validate=False: the composed read-only
    DictConfig, unchecked (for key suggestions)."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from maskbench.config.typed import register as register_schemas

    overrides = list(overrides or [])
    _check_sweep_syntax(overrides)
    _check_presets_exist(overrides)
    GlobalHydra.instance().clear()
    register_schemas()
    try:
        _initialize_hydra(user_config_dirs())
        cfg = compose(config_name=root, overrides=overrides)
        arch = _architecture_for_corruption(cfg, overrides)
        if arch:
            cfg = compose(config_name=root, overrides=overrides + [f"arch={arch}"])
    except Exception as exc:  # hydra raises several types; all become one line
        raise _translate_hydra_error(exc, overrides, root) from None
    finally:
        GlobalHydra.instance().clear()
    try:
        OmegaConf.resolve(cfg)
    except Exception as exc:
        raise MaskbenchError(f"config could not be resolved: {str(exc).splitlines()[0]}") from None
    if validate:
        return validate_config(cfg)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def _architecture_for_corruption(cfg, overrides: list[str]) -> str | None:
    """The architecture to use instead of the default, or None. `arch` defaults to the encoder; a corruption
    that cannot run there (BART's, MASS, T5's) takes its own architecture, unless the command line named an
    `arch=`, which then stays and is refused with the fix if it does not fit."""
    if "arch" not in cfg or "corruption" not in cfg or any(ov.lstrip("+~").startswith("arch=") for ov in overrides):
        return None
    archs = list(cfg.corruption.get("archs") or [])
    return archs[0] if archs and cfg.arch.get("name") not in archs else None


def validate_config(cfg):
    """`cfg` (a composed config: DictConfig or dict) merged into the typed schemas (maskbench/config/schema/): types,
    ranges and cross-group fit checked, one line per refusal. Returns the typed config object."""
    from omegaconf import OmegaConf

    from maskbench.config.typed import typed_config

    return typed_config(cfg if OmegaConf.is_config(cfg) else OmegaConf.create(cfg))


def as_dict(cfg) -> dict:
    """A config (typed object or DictConfig) as plain nested dicts and lists: what config.yaml holds."""
    from omegaconf import OmegaConf

    node = cfg if OmegaConf.is_config(cfg) else OmegaConf.structured(cfg)
    return OmegaConf.to_container(node, resolve=True)


def with_changes(cfg, **changes):
    """A checked copy of `cfg` with some values replaced (nested dicts merge): configs are never changed in
    place. The copy is checked as a whole again (a change that does not fit is one line, as on the command line)."""
    from omegaconf import OmegaConf

    return validate_config(OmegaConf.merge(OmegaConf.create(as_dict(cfg)), changes))


def runtime_overrides(cfg) -> list[str]:
    """The speed-only settings of `cfg` as overrides, to hand on to the runs a command starts."""
    def fmt(v):
        return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
    return [f"runtime.{k}={fmt(getattr(cfg.runtime, k))}" for k in ("device", "precision", "threads", "compile",
                                                                    "progress")]


def science_dict(cfg) -> dict:
    """The part of the config that defines the experiment (what the run-name hash covers)."""
    d = as_dict(cfg)
    for key in _NON_SCIENCE:
        d.pop(key, None)
    for key in _NON_SCIENCE_TRAIN:
        d.get("train", {}).pop(key, None)
    for key in _NON_SCIENCE_COMPARE:
        (d.get("compare") or {}).pop(key, None)
    for group, keys in _ONLY_WITH.items():
        g = d.get(group) or {}
        for key, (other, value) in keys.items():
            if g.get(other) != value:
                g.pop(key, None)
    for group, keys in _HASHED_UNLESS.items():
        g = d.get(group) or {}
        for key, legacy in keys.items():
            if g.get(key) == legacy:
                g.pop(key, None)  # absent (a config from before the key) counts as its legacy value
    return d


def config_hash(cfg) -> str:
    blob = json.dumps(science_dict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


# config.yaml's order: the root's own values, then what the experiment is about, then the rest (as composed)
_YAML_ORDER = ("seed", "init", "corruption", "task", "arch", "model", "data", "train", "runtime", "run")


def to_yaml(cfg) -> str:
    from omegaconf import OmegaConf

    d = as_dict(cfg)
    if "sweep" in d and d["sweep"] is None:  # a fine-tuning without a sweep preset: nothing to write
        del d["sweep"]
    ordered = {k: d[k] for k in _YAML_ORDER if k in d} | {k: v for k, v in d.items() if k not in _YAML_ORDER}
    return OmegaConf.to_yaml(OmegaConf.create(ordered))
