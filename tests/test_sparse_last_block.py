"""The encoder's pretraining loss runs its last block only at the positions a loss reads (labels, and
position 0 under NSP): the loss and every gradient equal the dense forward's, pre-LN and post-LN, with
padding, with an example that has no label, and with NSP."""

import pytest
import torch
import torch.nn.functional as F

from maskbench.batch import IGNORE, Batch
from maskbench.config import load_config
from maskbench.cores import usable_cores
from maskbench.models import build_model
from maskbench.models.rows import Rows
from maskbench.train.batches import prefetch_wanted
from maskbench.train.losses import pretrain_terms


def test_rows_round_trip_in_mask_order():
    mask = torch.tensor([[0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]], dtype=torch.bool)
    rows = Rows.where(mask)
    x = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)
    taken = rows.take(x)
    assert torch.equal(taken, x[mask])  # the order `hidden[sel]` has
    assert rows.width == 2 and rows.slot.tolist() == [0, 1, 0, 1]
    slots = rows.to_slots(taken, 3)
    assert slots.shape == (3, 2, 2) and torch.equal(slots[1], torch.zeros(2, 2))
    assert torch.equal(rows.from_slots(slots), taken)


def _batch(nsp: bool):
    g = torch.Generator().manual_seed(1)
    B, S = 4, 20
    ids = torch.randint(5, 300, (B, S), generator=g)
    sel = torch.rand(B, S, generator=g) < 0.2
    sel[2] = False  # an example without any label
    sel[3] = True   # one labelled everywhere
    labels = torch.where(sel, ids, torch.full_like(ids, IGNORE))
    pad = torch.zeros(B, S, dtype=torch.bool)
    pad[1, 15:] = True
    labels[1, 15:] = IGNORE
    return Batch(ids, labels, pad_mask=pad, token_type_ids=torch.randint(0, 2, (B, S), generator=g),
                 nsp_labels=torch.tensor([0, 1, 1, 0]) if nsp else None)


def _dense_loss(model, batch):
    h = model(batch)
    sel = batch.labels != IGNORE
    loss, _ = model.lm_head.loss_sum(h[sel], batch.labels[sel])
    if batch.nsp_labels is not None:
        loss = loss + F.cross_entropy(model.nsp_head(model.pooled(h)), batch.nsp_labels, reduction="sum")
    return loss


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("nsp", [False, True])
def test_sparse_last_block_equals_dense(norm, nsp):
    torch.manual_seed(0)
    cfg = load_config(["model=mini", "model.n_layers=2", "model.d_model=64", "model.n_heads=2",
                       "model.d_ff=128", f"model.norm={norm}"])
    model = build_model(cfg.model, "encoder", 300)
    batch = _batch(nsp)
    grads = []
    losses = []
    for fn in (lambda: sum(t.loss_sum for t in pretrain_terms(model, batch).values()), lambda: _dense_loss(model, batch)):
        model.zero_grad()
        loss = fn()
        loss.backward()
        losses.append(loss.item())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[1].items():
        assert torch.allclose(grads[0][name], g, atol=1e-5, rtol=1e-4), name


def test_prefetch_thread_only_with_a_core_of_its_own(monkeypatch):
    assert prefetch_wanted(True, "cpu") and not prefetch_wanted(False, "cuda:0")
    assert prefetch_wanted(None, "cuda:0")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 64)
    assert not prefetch_wanted(None, "cpu")  # every core runs matmuls: build inline
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    if usable_cores() > 1:
        assert prefetch_wanted(None, "cpu")
