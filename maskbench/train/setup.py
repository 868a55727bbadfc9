"""Things every training command needs: device and precision choice, thread count, determinism."""

from __future__ import annotations

import torch

from maskbench.errors import MaskbenchError


def pick_device(runtime, local_rank: int = 0) -> str:
    dev = str(runtime.device)
    if dev == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise MaskbenchError(f"runtime.device={dev} but no CUDA GPU is visible: use runtime.device=cpu")
    if dev == "cuda":
        return f"cuda:{local_rank}"
    return dev


def configure_torch(runtime, seed: int, device: str) -> None:
    if runtime.threads:
        torch.set_num_threads(int(runtime.threads))
    torch.manual_seed(seed)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
        torch.backends.cuda.matmul.allow_tf32 = bool(runtime.tf32)
        torch.backends.cudnn.allow_tf32 = bool(runtime.tf32)
