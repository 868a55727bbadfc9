"""Vocabulary projection + cross-entropy, fused and chunked.

For a small model the output layer is a third of the FLOPs, and the unfused version also streams
the [N, V] fp32 logits through memory several times (log-softmax forward and backward, a zero-filled
gradient, the scatter of the targets). Here each chunk of rows is projected, reduced to its loss, and
turned into its gradient (softmax - one-hot) while it is still hot in cache; the gradients w.r.t. the
hidden states, weight and bias are kept for backward. Same FLOPs, a fraction of the memory traffic,
and no [N, V] tensor ever lives beyond one chunk.
"""

from __future__ import annotations

import torch

CHUNK_ROWS = 512


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, target, want_grad: bool):
        # The projection and softmax run in fp32 even under bf16 autocast: a vocabulary-sized softmax in
        # bf16 loses the small probabilities that carry the gradient.
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            return _LinearCrossEntropy._forward(ctx, hidden, weight, bias, target, want_grad)

    @staticmethod
    def _forward(ctx, hidden, weight, bias, target, want_grad: bool):
        N = hidden.shape[0]
        loss = hidden.new_zeros((), dtype=torch.float32)
        grads = None
        if want_grad:
            grads = (torch.empty_like(hidden, dtype=torch.float32), torch.zeros_like(weight, dtype=torch.float32),
                     torch.zeros_like(bias, dtype=torch.float32))
        w = weight.float()
        b = bias.float()
        for i in range(0, N, CHUNK_ROWS):
            h = hidden[i:i + CHUNK_ROWS].float()
            y = target[i:i + CHUNK_ROWS]
            logits = torch.addmm(b, h, w.t())
            picked = logits.gather(1, y[:, None]).squeeze(1)
            # One exp pass serves both the loss (log-sum-exp) and the gradient (softmax), in place.
            top = logits.amax(dim=-1, keepdim=True)
            exps = logits.sub_(top).exp_()
            total = exps.sum(dim=-1, keepdim=True)
            loss += (total.log() + top - picked[:, None]).sum()
            if want_grad:
                probs = exps.div_(total)
                probs[torch.arange(len(y), device=y.device), y] -= 1.0
                grads[0][i:i + CHUNK_ROWS] = probs @ w
                grads[1].addmm_(probs.t(), h)
                grads[2].add_(probs.sum(0))
        if want_grad:
            ctx.save_for_backward(*grads)
        ctx.dtypes = (hidden.dtype, weight.dtype, bias.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        gh, gw, gb = ctx.saved_tensors
        dh, dw, db = ctx.dtypes
        return (gh * grad_loss).to(dh), (gw * grad_loss).to(dw), (gb * grad_loss).to(db), None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         target: torch.Tensor) -> torch.Tensor:
    """Sum over rows of cross_entropy(hidden @ weight.T + bias, target), fused and chunked."""
    want = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    return _LinearCrossEntropy.apply(hidden, weight, bias, target, want)


def argmax_correct(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, target: torch.Tensor):
    """How many rows predict their target (chunked, no gradient): for evaluation."""
    with torch.no_grad(), torch.autocast(device_type=hidden.device.type, enabled=False):
        correct = torch.zeros((), dtype=torch.long, device=hidden.device)
        for i in range(0, hidden.shape[0], CHUNK_ROWS):
            logits = torch.addmm(bias.float(), hidden[i:i + CHUNK_ROWS].float(), weight.float().t())
            correct += (logits.argmax(-1) == target[i:i + CHUNK_ROWS]).sum()
        return correct
