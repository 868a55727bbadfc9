"""Hand-checked small examples of each corruption's mechanics, and invariants on real blocks."""

import torch

from maskbench.config import load_config
from maskbench.corruption import build_corruption
from maskbench.batch import IGNORE
from maskbench.corruption.base import is_special
from maskbench.corruption.keyed_random import KeyedRandom, example_keys
from maskbench.corruption.spans import assemble, random_parts, span_masks
from maskbench.data.blocks import Blocks
from maskbench.data.tokenizer import Vocab

# A fake vocabulary: 7 base specials + 3 sentinels, text ids 10..99.
V = Vocab(size=100, pad=0, unk=1, cls=2, sep=3, mask=4, bos=5, eos=6, sentinel0=7, n_sentinels=3,
          special_ids=tuple(range(10)))


def corr(name, arch="encoder_decoder", **over):
    cfg = load_config([f"corruption={name}", f"arch={arch}"] + [f"corruption.{k}={v}" for k, v in over.items()])
    return build_corruption(cfg.corruption, arch, V)


def block(rows=1, n=20, sentence_every=5):
    toks = torch.arange(10, 10 + n).repeat(rows, 1)
    sent = (torch.arange(n) % sentence_every == 0).repeat(rows, 1)
    return Blocks(toks, sent, torch.zeros_like(toks))


def test_assemble_hand_example():
    tokens = torch.tensor([[11, 12, 13, 14, 15]])
    keep = torch.tensor([[True, False, False, True, True]])
    insert = torch.tensor([[False, True, False, False, False, True]])
    ids = torch.tensor([[0, 4, 0, 0, 0, 4]])
    out, n = assemble(tokens, keep, insert, ids, pad_id=0)
    assert out.tolist() == [[11, 4, 14, 15, 4]] and n.tolist() == [5]


def test_span_masks_hand_example():
    starts, lengths = torch.tensor([[1, 5, 8]]), torch.tensor([[2, 0, 1]])
    inside, sid = span_masks(starts, lengths, torch.ones(1, 3, dtype=torch.bool), 10)
    assert inside.long().tolist() == [[0, 1, 1, 0, 0, 0, 0, 0, 1, 0]]
    assert sid.tolist() == [[-1, 0, 0, -1, -1, -1, -1, -1, 2, -1]]


def test_random_parts_sum_and_positive():
    rng = KeyedRandom(torch.arange(200))
    parts = random_parts(torch.full((200,), 17), torch.full((200,), 5), 5, rng, 1, 17)
    assert (parts.sum(1) == 17).all() and (parts > 0).all()


def test_keyed_random_is_per_example_not_per_batch():
    a = KeyedRandom(example_keys(3, 1, torch.tensor([5, 9, 11]))).uniform(7, 16)
    b = KeyedRandom(example_keys(3, 1, torch.tensor([11, 2]))).uniform(7, 40)
    assert torch.equal(a[2], b[0, :16])  # same example, same draws, whatever the batch and length
    c = KeyedRandom(example_keys(3, 2, torch.tensor([11]))).uniform(7, 16)
    assert not torch.equal(a[2], c[0])  # a new epoch masks differently (dynamic masking)
    u = KeyedRandom(torch.arange(1000)).uniform(0, 1000)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean().item() - 0.5) < 0.002


def test_bert_mlm_labels_and_exact_count():
    b = block(rows=64, n=40)
    out = corr("bert_mlm", arch="encoder", exact_count="true")(b, example_keys(0, 0, torch.arange(64)))
    assert out.input_ids.shape == (64, 42)
    assert (out.input_ids[:, 0] == V.cls).all() and (out.input_ids[:, -1] == V.sep).all()
    sel = out.labels != IGNORE
    assert (sel.sum(1) == round(0.15 * 40)).all()  # exactly round(p * n) per row
    assert torch.equal(out.labels[sel], torch.cat([torch.full((64, 1), -1), b.tokens, torch.full((64, 1), -1)], 1)[sel])
    # Unselected positions are untouched.
    assert torch.equal(out.input_ids[:, 1:-1][~sel[:, 1:-1]], b.tokens[~sel[:, 1:-1]])


def test_bert_never_selects_or_samples_specials():
    toks = torch.randint(10, 100, (256, 30))
    toks[:, ::3] = torch.tensor([V.mask, V.sep, V.cls, V.pad, 8] * 2)[: toks[:, ::3].shape[1]]
    b = Blocks(toks, torch.zeros_like(toks, dtype=torch.bool), torch.zeros_like(toks))
    out = corr("bert_mlm", arch="encoder", mask_prob=0.9, random_token_prob=0.2, mask_token_prob=0.0)(
        b, example_keys(1, 0, torch.arange(256)))
    d = out.diag
    assert not (d.selected & is_special(toks, V)).any()
    assert (d.random_ids[d.random_ids >= 0] >= V.n_special).all()


def test_whole_word_masking_takes_all_pieces():
    toks = torch.arange(10, 40).repeat(128, 1)
    cont = torch.zeros(100, dtype=torch.bool)
    cont[torch.arange(11, 100, 3)] = True  # every third id is a '##' continuation piece
    cfg = load_config(["corruption=bert_mlm", "corruption.whole_word=true"]).corruption
    c = build_corruption(cfg, "encoder", V, cont)
    out = c(Blocks(toks, torch.zeros_like(toks, dtype=torch.bool), torch.zeros_like(toks)),
            example_keys(0, 0, torch.arange(128)))
    sel = out.diag.selected
    is_cont = cont[toks]
    # a continuation piece is selected exactly when the piece before it is
    assert torch.equal(sel[:, 1:][is_cont[:, 1:]], sel[:, :-1][is_cont[:, 1:]])
    acts = out.diag.action[sel]
    assert (acts == 2).any()  # random replacement kept under whole-word masking (HF drops it)


def test_bart_delete_removes_exactly_the_selected_tokens():
    b = block(rows=32, n=30)
    out = corr("bart_delete")(b, example_keys(0, 0, torch.arange(32)))
    d = out.diag
    for r in range(32):
        kept = b.tokens[r][~d.selected[r]].tolist()
        src = out.input_ids[r].tolist()
        assert src[0] == V.bos and src[len(kept) + 1] == V.eos and src[1:len(kept) + 1] == kept
    assert torch.equal(out.labels[:, :-1], b.tokens) and (out.labels[:, -1] == V.eos).all()
    assert torch.equal(out.decoder_input_ids[:, 1:], b.tokens) and (out.decoder_input_ids[:, 0] == V.bos).all()


def test_bart_infill_one_mask_per_span_and_reconstructs():
    b = block(rows=64, n=60)
    out = corr("bart_infill")(b, example_keys(0, 0, torch.arange(64)))
    d = out.diag
    for r in range(64):
        lens = d.span_lengths[r][d.span_valid[r]]
        assert int(lens.sum()) == round(0.3 * 60)
        src = out.input_ids[r][1:1 + int(d.source_len[r])]
        assert int((src == V.mask).sum()) == len(lens)  # 0-length spans insert a [MASK] too
        # Expanding each [MASK] back into its span gives the original block.
        rebuilt, spans, i = [], lens.tolist(), 0
        orig = b.tokens[r].tolist()
        for t in src.tolist():
            if t == V.mask:
                rebuilt.extend(orig[len(rebuilt):len(rebuilt) + spans[i]])
                i += 1
            else:
                rebuilt.append(t)
        assert rebuilt == orig


def test_bart_permute_keeps_sentences_whole():
    b = block(rows=16, n=20, sentence_every=5)  # 4 sentences of 5 tokens
    out = corr("bart_permute")(b, example_keys(0, 0, torch.arange(16)))
    src = out.input_ids[:, 1:21]
    for r in range(16):
        chunks = sorted(tuple(src[r, i:i + 5].tolist()) for i in range(0, 20, 5))
        assert chunks == [tuple(range(10 + 5 * k, 15 + 5 * k)) for k in range(4)]
    assert torch.equal(out.labels[:, :-1], b.tokens)  # the target is the unpermuted block
    assert int(out.diag.sentences_moved.sum()) > 0


def test_bart_rotate_is_a_rotation():
    b = block(rows=16, n=20)
    out = corr("bart_rotate")(b, example_keys(0, 0, torch.arange(16)))
    for r in range(16):
        src = out.input_ids[r, 1:21].tolist()
        k = src.index(10)
        assert src[k:] + src[:k] == b.tokens[r].tolist()


def test_mass_decoder_sees_the_fragment_at_original_positions():
    b = block(rows=64, n=20)
    out = corr("mass_span")(b, example_keys(0, 0, torch.arange(64)))
    pos = out.decoder_positions
    assert pos.shape == (64, 10)
    assert torch.equal(out.labels, b.tokens.gather(1, pos))  # target = the fragment only
    prev = torch.where(pos == 0, V.bos, b.tokens.gather(1, (pos - 1).clamp(min=0)))
    assert torch.equal(out.decoder_input_ids, prev)
    starts = pos[:, 0]
    assert (starts == 0).any() and (starts == 10).any()  # begin / end placements happen
    enc = out.input_ids[:, 1:21]
    outside = ~out.diag.selected
    assert torch.equal(enc[outside], b.tokens[outside])


def test_t5_sentinels_and_target_reconstruct():
    b = block(rows=32, n=40)
    out = corr("t5_span")(b, example_keys(0, 0, torch.arange(32)))
    for r in range(32):
        n = int(out.diag.source_len[r])
        src = out.input_ids[r, 1:1 + n].tolist()
        tgt = out.labels[r][out.labels[r] >= 0].tolist()
        assert tgt[-1] == V.eos
        pieces, cur = {}, None
        for t in tgt[:-1]:
            if 7 <= t < 10:
                cur = t
                pieces[cur] = []
            else:
                pieces[cur].append(t)
        rebuilt = []
        for t in src:
            rebuilt.extend(pieces[t] if 7 <= t < 10 else [t])
        assert rebuilt == b.tokens[r].tolist()
        assert [t for t in src if 7 <= t < 10] == sorted(pieces)  # distinct sentinels, in order


def test_nsp_labels_tell_the_truth(tiny_setup):
    cfg, cache, tok, vocab, store = tiny_setup
    c = build_corruption(load_config(["corruption=bert_mlm_nsp"]).corruption, "encoder", vocab)
    idx = torch.arange(0, 400)
    partner_idx = (idx * 7 + 101) % len(store)
    blocks, partner = store.get(idx), store.get(partner_idx)
    out = c(blocks, example_keys(0, 0, idx), partner)
    types = out.token_type_ids
    sep_at = (types == 0).sum(1) - 1  # index of the middle [SEP]
    assert (out.input_ids.gather(1, sep_at[:, None]) == vocab.sep).all()
    labels = out.nsp_labels
    for r in range(len(idx)):
        a = int(sep_at[r]) - 1  # A = block[:a]
        b_tokens = out.diag.original[r, a:]
        if labels[r] == 0:
            assert torch.equal(b_tokens, blocks.tokens[r, a:-1])
            assert blocks.doc_id[r, a - 1] == blocks.doc_id[r, a]
    frac = labels.float().mean().item()
    assert 0.4 < frac < 0.6
