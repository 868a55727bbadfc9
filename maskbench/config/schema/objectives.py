"""Which objective a `corruption` node is: the one lookup (built-in or a user's own), torch-free.

A built-in objective is found by `family` in config/schema/corruption.py's FAMILIES. A user's own names its class in
the corruption YAML, without any edit to maskbench:
- `objective: my_objective.py:MyObjective` — a Python file: an absolute path, or relative to the current
  folder, to $MASKBENCH_CONFIG_DIR (`--config-dir`) or to ./conf (the folders user configs come from);
- `objective: my_package.objectives:MyObjective` — an importable module;
- `objective: my_objective` — an entry point of that name in the group `maskbench.objectives` (an installed
  package's `[project.entry-points."maskbench.objectives"] my_objective = "pkg.mod:MyObjective"`).
The class must derive from CorruptionConfig (config/schema/corruption.py); whatever goes wrong while finding it
(no file, no class, another base class, an exception while importing it) is one line (MaskbenchError).
docs/objectives_api.md walks through writing one.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

from maskbench.errors import MaskbenchError, safe_reason

ENTRY_POINT_GROUP = "maskbench.objectives"


def _search_dirs() -> list[Path]:
    """Where a relative path to a Python file is looked for (the user config folders of maskbench/config/compose.py)."""
    dirs = [Path.cwd()]
    if os.environ.get("MASKBENCH_CONFIG_DIR"):
        dirs.append(Path(os.environ["MASKBENCH_CONFIG_DIR"]).expanduser())
    return dirs + [Path.cwd() / "conf"]


def _import_file(path: str, what: str):
    candidates = [Path(path).expanduser()] if Path(path).expanduser().is_absolute() else \
        [d / path for d in _search_dirs()]
    found = next((p.resolve() for p in candidates if p.is_file()), None)
    if found is None:
        raise MaskbenchError(f"{what} — the file {path} is not there (looked in "
                             f"{', '.join(str(p.parent) for p in candidates)}): give its path")
    name = f"maskbench_user_objective_{zlib.crc32(str(found).encode()):08x}"  # one module per file, per process
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, found)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    except MaskbenchError:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # a plug-in's bug is one line naming the file, not our crash
        sys.modules.pop(name, None)
        raise MaskbenchError(f"{what} — importing {found} failed: {type(exc).__name__}: {safe_reason(exc, 200)}") \
            from None
    return module


def _import_module(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise MaskbenchError(f"{what} — there is no module {module}: install it or give a path to a .py file "
                                 f"(objective: path/to/file.py:Class)") from None
        raise MaskbenchError(f"{what} — importing {module} failed: {safe_reason(exc, 200)}") from None
    except MaskbenchError:
        raise
    except Exception as exc:
        raise MaskbenchError(f"{what} — importing {module} failed: {type(exc).__name__}: {safe_reason(exc, 200)}") \
            from None


def load_attribute(spec: str, what: str):
    """The object `spec` names: "file.py:Name", "package.module:Name", or an entry point of maskbench.objectives."""
    if not isinstance(spec, str) or not spec.strip():
        raise MaskbenchError(f"{what} — give corruption.objective as path/to/file.py:Class or package.module:Class")
    if ":" not in spec:
        return _entry_point(spec, what)
    where, _, attr = spec.rpartition(":")
    module = _import_file(where, what) if where.endswith(".py") else _import_module(where, what)
    if not hasattr(module, attr):
        raise MaskbenchError(f"{what} — {where} has no {attr}: name a class it defines ({where}:ClassName)")
    return getattr(module, attr)


def _entry_point(name: str, what: str):
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise MaskbenchError(f"{what} — no installed package offers the objective {name!r} (entry point group "
                             f"{ENTRY_POINT_GROUP}): install it, or give path/to/file.py:Class")
    return load_attribute(found[0].value, what)


def user_objective(spec: str, what: str) -> type:
    """The config class a user's objective names, checked to be an objective."""
    from maskbench.config.schema.corruption import CorruptionConfig

    cls = load_attribute(spec, what)
    if not (isinstance(cls, type) and issubclass(cls, CorruptionConfig)):
        raise MaskbenchError(f"{what} — {spec} is not an objective: derive it from "
                             f"maskbench.config.schema.corruption.CorruptionConfig (docs/objectives_api.md)")
    if not cls.implementation:
        raise MaskbenchError(f"{what} — {spec} names no corruption: set its class attribute implementation = "
                             f"\"module:Class\" (or the class itself)")
    return cls


def users_objective(cfg) -> bool:
    """Whether `cfg` (an objective's config object or class) is a user's own: its class is defined outside the
    maskbench package (a file's module is maskbench_user_objective_*, a package's its own name)."""
    cls = cfg if isinstance(cfg, type) else type(cfg)
    return not cls.__module__.startswith("maskbench.")


@contextmanager
def objective_code(cfg, hook: str):
    """Run a hook of objective `cfg`. An exception from a user's own objective (its check(), its corruption's
    __init__ or __call__, its loss) is a bug of that objective, not of maskbench: one line naming it and the hook,
    instead of the internal-error line that asks to report it here. MASKBENCH_DEBUG=1 raises it as it is."""
    try:
        yield
    except MaskbenchError:
        raise
    except Exception as exc:
        from maskbench import crash

        if not users_objective(cfg) or crash.debug():
            raise
        spec = getattr(cfg, "objective", None) or getattr(cfg, "name", "?")
        raise MaskbenchError(f"corruption.objective={spec!r}: its {hook} raised {type(exc).__name__}: "
                             f"{safe_reason(exc, 200)}: fix the objective (MASKBENCH_DEBUG=1 shows the traceback)") \
            from None


def objective_class(node) -> type:
    """The schema class of a corruption node (a mapping with `family` and maybe `objective`)."""
    from maskbench.config.schema.corruption import FAMILIES

    spec, family = node.get("objective"), node.get("family")
    if spec is not None:
        return user_objective(spec, f"corruption.objective={spec!r}")
    if family not in FAMILIES:
        raise MaskbenchError(f"corruption.family={family} is unknown: choose one of {', '.join(FAMILIES)}, or name "
                             f"your own objective's class with corruption.objective (docs/objectives_api.md)")
    return FAMILIES[family]


def presets_fitting(arch: str) -> list[str]:
    """The corruption presets (packaged and the user's own) that fit architecture `arch`, for refusals."""
    from omegaconf import OmegaConf

    folders = [Path(__file__).resolve().parents[2] / "conf"] + _search_dirs()[1:]
    names = set()
    for folder in folders:
        for p in sorted((folder / "corruption").glob("*.yaml")) if (folder / "corruption").is_dir() else ():
            try:
                archs = OmegaConf.load(p).get("archs") or [arch]
            except Exception:  # a broken user file is refused where it is chosen, not here
                continue
            if arch in archs:
                names.add(p.stem)
    return sorted(names)


def check_arch(corruption, arch: str, why: str = "") -> None:
    """The one architecture/objective fit check: `corruption` (a schema object) runs on `arch`, else one line
    naming the presets that do. `why`: what chose the architecture (e.g. an init= model)."""
    _check_declared_archs(corruption)
    if arch in corruption.archs:
        return
    fits = " or ".join(f"arch={a}" for a in corruption.archs)
    if why:
        raise MaskbenchError(f"{why} is an {arch} model, and corruption={corruption.name} needs "
                             f"{' or '.join(corruption.archs)}: choose one of {', '.join(presets_fitting(arch))}")
    raise MaskbenchError(f"corruption={corruption.name} does not fit arch={arch}: it needs {fits} "
                         f"({arch} takes {', '.join(presets_fitting(arch))})")


def _check_declared_archs(corruption) -> None:
    """`corruption.archs` is a config key, but which architectures an objective runs on is a fact of its code (its
    class's default): a list that adds one let GPT-BERT train an encoder-decoder silently and T5 or BART reach an
    encoder's framing (a crash). The key may narrow the class's list, never widen or empty it."""
    import dataclasses

    declared = next((f for f in dataclasses.fields(corruption) if f.name == "archs"), None)
    if declared is None or declared.default_factory is dataclasses.MISSING:
        return
    runs_on = list(declared.default_factory())
    given = list(corruption.archs)
    if not given:
        raise MaskbenchError(f"corruption.archs=[] names no architecture: corruption={corruption.name} runs on "
                             f"{', '.join(runs_on)}; leave corruption.archs out")
    added = [a for a in given if a not in runs_on]
    if added:
        raise MaskbenchError(f"corruption.archs={given} adds {', '.join(added)}: corruption={corruption.name} runs on "
                             f"{' and '.join(runs_on)} only; corruption.archs can narrow that list, not widen it")
