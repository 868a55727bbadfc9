"""The fused, chunked vocabulary projection + cross-entropy equals the plain
F.cross_entropy(F.linear(...)) in value and in every gradient, in fp32 and bf16, across chunk edges."""

import pytest
import torch
import torch.nn.functional as F

from maskbench.models.fused_ce import CHUNK_ROWS, argmax_correct, linear_cross_entropy


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
@pytest.mark.parametrize("rows", [7, CHUNK_ROWS + 13])  # one chunk, and a chunk edge
def test_fused_loss_matches_reference(dtype, tol, rows):
    g = torch.Generator().manual_seed(0)
    V, D = 301, 24
    h0 = torch.randn(rows, D, generator=g).to(dtype)
    w0 = (0.3 * torch.randn(V, D, generator=g)).to(dtype)
    b0 = (0.1 * torch.randn(V, generator=g)).to(dtype)
    y = torch.randint(V, (rows,), generator=g)

    def run(fn):
        h, w, b = (t.clone().requires_grad_(True) for t in (h0, w0, b0))
        loss = fn(h, w, b)
        loss.backward()
        assert h.grad.dtype == w.grad.dtype == b.grad.dtype == dtype  # gradients in the inputs' dtype
        return loss.float(), h.grad.float(), w.grad.float(), b.grad.float()

    fused = run(lambda h, w, b: linear_cross_entropy(h, w, b, y))
    # The reference in fp32 from the same (possibly bf16-rounded) inputs: the fused path computes in fp32.
    ref = run(lambda h, w, b: F.cross_entropy(F.linear(h.float(), w.float(), b.float()), y, reduction="sum"))
    assert fused[0].item() == pytest.approx(ref[0].item(), rel=tol)
    for a, r in zip(fused[1:], ref[1:]):
        assert a.shape == r.shape
        assert torch.allclose(a, r, rtol=tol, atol=tol * float(r.abs().max())), float((a - r).abs().max())
    correct = argmax_correct(h0, w0, b0, y)
    assert int(correct) == int((F.linear(h0.float(), w0.float(), b0.float()).argmax(-1) == y).sum())


def test_no_gradient_state_without_grad():
    h, w, b = torch.randn(5, 8), torch.randn(11, 8), torch.zeros(11)
    with torch.no_grad():
        loss = linear_cross_entropy(h, w, b, torch.arange(5))
    ref = F.cross_entropy(F.linear(h, w, b), torch.arange(5), reduction="sum")
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
