"""The optional extras (transformers, datasets, submitit, trackers) are imported in one way: the module, or
one line naming what needs it and the pip command that installs it. The core never imports them; a config
that asks for one is checked with `installed` (no import: it can be slow) before any work."""

from __future__ import annotations

import importlib

from maskbench.errors import MaskbenchError


def require(module: str, needed_for: str, extra: str, package: str | None = None):
    """Import `module`, or fail in one line: `needed_for` needs the `package` library (`pip install
    'maskbench[extra]'`, or the package itself)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing(package or module.split(".")[0], needed_for, extra) from None


def installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


def missing(package: str, needed_for: str, extra: str) -> MaskbenchError:
    """The one line for an extra that is not installed."""
    return MaskbenchError(f"{needed_for} needs the {package} library: pip install 'maskbench[{extra}]'  "
                          f"(or: pip install {package})")
