"""benchmarks/gpu_check.py on a machine without a GPU: one line saying so, exit 0; its peak table."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: run the check itself")
def test_without_a_gpu_it_says_so_and_exits_0():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().startswith("no GPU") and len(out.stdout.splitlines()) == 1


def test_known_cards_have_a_peak():
    sys.path.insert(0, str(SCRIPT.parent))
    from gpu_check import peak_tflops

    assert peak_tflops("NVIDIA H100 80GB HBM3", None) == 989.0
    assert peak_tflops("NVIDIA H100 PCIe", None) == 756.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", None) == 312.0
    assert peak_tflops("Some Future Card", None) is None and peak_tflops("x", 100.0) == 100.0
