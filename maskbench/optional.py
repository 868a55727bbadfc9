"""The optional extras (transformers, datasets, submitit, trackers) are imported in one way: the module, or
one line naming what needs it and the pip command that installs it. The core never imports them."""

from __future__ import annotations

import importlib

from maskbench.errors import MaskbenchError


def require(module: str, needed_for: str, extra: str, package: str | None = None):
    """Import `module`, or fail in one line: `needed_for` needs the `package` library (`pip install
    'maskbench[extra]'`, or the package itself)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = package or module.split(".")[0]
        raise MaskbenchError(f"{needed_for} needs the {package} library: pip install 'maskbench[{extra}]'  "
                             f"(or: pip install {package})") from None
