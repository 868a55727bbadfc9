"""Which experiment trackers exist, and whether the ones a config asks for can be used: checked with the
config (torch-free), before any work. Writing to them is maskbench/runs/trackers.py."""

from __future__ import annotations

import os
from typing import NamedTuple

from maskbench.errors import MaskbenchError

LOGGERS = ("jsonl", "tensorboard", "wandb", "mlflow")
class Tracker(NamedTuple):
    writer: str     # the module it is written through
    module: str     # the module its package installs (what `installed` looks for)
    package: str    # what pip installs (the maskbench extra is named as the tracker)


TRACKERS = {"tensorboard": Tracker("torch.utils.tensorboard", "tensorboard", "tensorboard"),
            "wandb": Tracker("wandb", "wandb", "wandb"), "mlflow": Tracker("mlflow", "mlflow", "mlflow-skinny")}


def check_trackers_installed(names) -> None:
    """Fail before any work when a requested tracker's package is missing, or its server cannot be reached."""
    from maskbench.optional import installed, missing

    for name in names:
        if name in TRACKERS and not installed(TRACKERS[name].module):
            raise missing(TRACKERS[name].package, f"run.loggers=[{name}]", name)
    if "wandb" in names:
        check_wandb_login()
    if "mlflow" in names:
        check_reachable(os.environ.get("MLFLOW_TRACKING_URI") or "", "MLFLOW_TRACKING_URI",
                        "start the server, or unset MLFLOW_TRACKING_URI to log into RUN/mlruns")


def check_reachable(uri: str, what: str, fix: str, timeout_s: float = 3.0) -> None:
    """An http(s) tracking server must accept a connection within seconds (the client itself retries for minutes)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        raise MaskbenchError(f"{what}={uri} cannot be reached ({exc.strerror or exc or 'timed out'}): {fix}") from None


def check_wandb_login() -> None:
    """W&B online needs an API key (WANDB_API_KEY, or `wandb login`'s entry in ~/.netrc); without one wandb.init
    fails after the run folder is made. Offline and disabled modes need none."""
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled", "dryrun") or os.environ.get("WANDB_API_KEY"):
        return
    import netrc
    from urllib.parse import urlsplit

    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or "api.wandb.ai"
    try:
        found = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        found = None
    if not found:
        raise MaskbenchError("run.loggers has wandb but W&B has no API key: run `wandb login`, set WANDB_API_KEY, "
                             "or log offline with WANDB_MODE=offline (files in RUN/wandb/)")
