"""The imports point down: every maskbench package or root module sits in one layer (docs/development.md draws
them) and imports only from layers below it, at module level and inside functions alike. Checked twice: by
reading every import statement, and by importing each layer while every layer above it is blocked."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "maskbench"

# Bottom to top. A unit is a sub-package of maskbench or a module at its root; units in one layer do not
# import each other.
LAYERS = [
    ["errors"],
    ["cores", "batch", "files", "optional", "arch", "crash"],  # ground: primitives every part may use
    ["config.schema"],                         # config groups as typed dataclasses, their checks (no torch)
    ["data"],                                  # text in, token blocks out; task files read
    ["tasks"],                                 # fine-tuning task kinds (torch-free at import)
    ["config"],                                # compose.py: Hydra composition, hashing; typed.py: a composed config
                                               # merged into config.schema and checked (no torch)
    ["models"],                                # the two architectures and their heads
    ["corruption"],                            # the corruptions, one module per family
    ["interop"],                               # transformers classes, folders, tokenizers
    ["runs"],                                  # a run folder's layout and life: checkpoints, model sources
    ["report"],                                # figures and tables from run folders
    ["zeroshot"],                              # minimal pairs scored by a model's own (pseudo-)likelihood
    ["train"],                                 # the loop, pretraining, fine-tuning, compare, sweeps
    ["export", "inspect", "collators", "guard"],  # commands' engines; guard: how a command ends
    ["cli"],
    ["__main__"],
]
LAYER_OF = {unit: i for i, units in enumerate(LAYERS) for unit in units}
# A package on two layers: these sub-packages are units of their own. config/schema/ sits below the task kinds,
# which build their schemas on it; config/compose.py and config/typed.py above them, which look the kinds up.
SPLIT = {"config": ("schema",)}


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and parts[2] in SPLIT.get(parts[1], ()):
        return f"{parts[1]}.{parts[2]}"
    return parts[1] if len(parts) > 1 else "maskbench"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported maskbench module, line) for every import statement in the file, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            for name in names:
                yield name, node.lineno


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    units |= {f"{package}.{sub}" for package, subs in SPLIT.items() for sub in subs}
    assert units - set(LAYER_OF) == set(), "a new package or root module needs its place in LAYERS"


def test_imports_only_point_down():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit(_module_name(path))
        for target, line in _imports(path):
            if not target.startswith("maskbench.") or _unit(target) == src:
                continue
            dst = _unit(target)
            if LAYER_OF[dst] >= LAYER_OF[src]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} "
                              f"({src}, layer {LAYER_OF[src]} -> {dst}, layer {LAYER_OF[dst]})")
    assert upward == []


def test_the_reader_sees_imports_inside_functions(tmp_path):
    """The check above can fail: a function-level import of a higher layer is found."""
    pkg = tmp_path / "maskbench" / "data"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from maskbench.train.loop import autocast\n")
    found = list(_imports_at(pkg / "x.py", tmp_path / "maskbench"))
    assert ("maskbench.train.loop", 2) in found


def _imports_at(path: Path, package_root: Path):
    global PACKAGE
    saved, PACKAGE = PACKAGE, package_root
    try:
        return list(_imports(path))
    finally:
        PACKAGE = saved


BLOCKER = """
import importlib, importlib.abc, pkgutil, sys
blocked = set({blocked!r})
split = {split!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] != "maskbench" or len(parts) < 2 or (len(parts) == 2 and parts[1] in split):
            return None  # a split package's own __init__ comes with its lower unit: it must load nothing above
        unit = f"{{parts[1]}}.{{parts[2]}}" if len(parts) > 2 and parts[2] in split.get(parts[1], ()) else parts[1]
        if unit in blocked:
            raise ImportError(f"{{name}} is in a layer above the one being imported")
sys.meta_path.insert(0, Block())
import maskbench
for unit in {units!r}:
    mod = importlib.import_module("maskbench." + unit)
    if hasattr(mod, "__path__"):
        for info in pkgutil.walk_packages(mod.__path__, mod.__name__ + "."):
            importlib.import_module(info.name)
print("ok")
"""


@pytest.mark.parametrize("layer", range(len(LAYERS) - 2))  # cli and __main__ import everything lazily
def test_each_layer_imports_with_the_layers_above_blocked(layer):
    blocked = [u for units in LAYERS[layer + 1:] for u in units]
    code = BLOCKER.format(blocked=blocked, units=LAYERS[layer], split=SPLIT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_config_loads_without_torch():
    code = ("import sys; from maskbench.config import load_config; "
            "cfg = load_config(['task=sst2'], root='finetune'); load_config(['corruption=t5_span', 'arch=encoder_decoder']); "
            "print('torch' in sys.modules, cfg.task.kind)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert out.stdout.split() == ["False", "classification"], out.stderr[-2000:]
