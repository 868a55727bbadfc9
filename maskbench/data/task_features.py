"""Turn task examples into token ids for either architecture.

Encoder:          [CLS] text [SEP]  /  [CLS] A [SEP] B [SEP] with segments 0/1.
Encoder-decoder:  [BOS] text [EOS]  /  [BOS] A [SEP] B [EOS]; the BART recipe feeds the same sequence
                  to the decoder and reads the decoder's states.
Tagging puts each word's tag on its first sub-word (others ignored). QA windows long contexts with a
document stride and labels the answer's first/last token (or position 0 when the window lacks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maskbench.batch import IGNORE
from maskbench.data.tokenizer import Vocab


@dataclass
class Feature:
    ids: list[int]
    types: list[int]
    label: int | list[int] | tuple[int, int]
    # QA only: which example, and the char span of each context token (None outside the context)
    example: int = -1
    offsets: list = field(default_factory=list)
    # tagging only: the position of each word's first sub-word (None: cut off by max_len, or no sub-words)
    word_starts: list = field(default_factory=list)


def _frame(vocab: Vocab, arch: str):
    if arch == "encoder":
        return vocab.cls, vocab.sep
    return vocab.bos, vocab.eos


def encode_texts(examples, labels: list[str], tok, vocab: Vocab, arch: str, max_len: int) -> list[Feature]:
    index = {lab: i for i, lab in enumerate(labels)}
    index[None] = IGNORE  # unlabelled (predict)
    start, end = _frame(vocab, arch)
    out = []
    pieces = [tok.encode_batch([ex.texts[i] for ex in examples], add_special_tokens=False)
              for i in range(len(examples[0].texts))]
    for n, ex in enumerate(examples):
        parts = [pieces[i][n].ids for i in range(len(ex.texts))]
        budget = max_len - 1 - len(parts)  # [CLS] + one [SEP] per part
        while sum(map(len, parts)) > budget:  # longest-first truncation
            longest = max(range(len(parts)), key=lambda i: len(parts[i]))
            parts[longest] = parts[longest][:-1]
        ids, types = [start], [0]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            ids += part + [end if last else vocab.sep]
            types += [i] * (len(part) + 1)
        out.append(Feature(ids, [min(t, 1) for t in types], index[ex.label]))
    return out


def encode_tagged(sentences, tags: list[str], tok, vocab: Vocab, arch: str, max_len: int) -> list[Feature]:
    index = {t: i for i, t in enumerate(tags)}
    start, end = _frame(vocab, arch)
    encs = tok.encode_batch([s.words for s in sentences], is_pretokenized=True, add_special_tokens=False)
    out = []
    for s, enc in zip(sentences, encs):
        ids, labels, starts, prev = [start], [IGNORE], [None] * len(s.words), None
        for tid, wid in zip(enc.ids, enc.word_ids):
            if len(ids) >= max_len - 1:
                break
            first = wid is not None and wid != prev
            if first:
                starts[wid] = len(ids)
            ids.append(tid)
            labels.append(index[s.tags[wid]] if first and s.tags is not None else IGNORE)
            prev = wid
        ids.append(end)
        labels.append(IGNORE)
        out.append(Feature(ids, [0] * len(ids), labels, word_starts=starts))
    return out


def encode_qa(examples, tok, vocab: Vocab, arch: str, max_len: int, stride: int, max_query: int,
              train: bool) -> list[Feature]:
    """[CLS] question [SEP] context-window [SEP], windows `stride` tokens apart."""
    start_id, end_id = _frame(vocab, arch)
    q_encs = tok.encode_batch([e.question for e in examples], add_special_tokens=False)
    c_encs = tok.encode_batch([e.context for e in examples], add_special_tokens=False)
    out = []
    for n, (ex, q, c) in enumerate(zip(examples, q_encs, c_encs)):
        q_ids = q.ids[:max_query]
        room = max_len - len(q_ids) - 3
        offsets = c.offsets
        ans = None
        if train and ex.answers:
            a0 = ex.answer_starts[0]
            a1 = a0 + len(ex.answers[0])
            tok_in = [i for i, (s, e) in enumerate(offsets) if s < a1 and e > a0]
            if tok_in:
                ans = (tok_in[0], tok_in[-1])
        begin = 0
        while True:
            window = range(begin, min(begin + room, len(c.ids)))
            ids = [start_id] + q_ids + [vocab.sep] + [c.ids[i] for i in window] + [end_id]
            types = [0] * (len(q_ids) + 2) + [1] * (len(window) + 1)
            ctx0 = len(q_ids) + 2
            offs = [None] * ctx0 + [offsets[i] for i in window] + [None]
            label = (0, 0)
            if ans and window and ans[0] >= window.start and ans[1] < window.stop:
                label = (ans[0] - window.start + ctx0, ans[1] - window.start + ctx0)
            # Windows without the answer point at position 0 ([CLS]/[BOS]), as in BERT's SQuAD code.
            out.append(Feature(ids, types, label, example=n, offsets=offs))
            if window.stop >= len(c.ids):
                break
            begin += stride
    return out
