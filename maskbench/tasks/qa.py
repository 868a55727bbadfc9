"""Extractive QA (SQuAD v1.1): start/end logits over the context, long contexts windowed with a document
stride, the best valid span per question over its windows; official EM / F1."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from maskbench.arch import arch_of
from maskbench.data.hub import cache_target, need_columns, task_dataset, write_cached
from maskbench.errors import MaskbenchError
from maskbench.config.schema.fields import is_int, option
from maskbench.config.schema.task import TaskConfig
from maskbench.tasks.base import Predictor, Scorer, TaskKind
from maskbench.tasks.common import (PREDICT, TRAINING, Feature, Purpose, check_task_file, json_objects, read_lines,
                                    read_plain_lines)

if TYPE_CHECKING:
    from maskbench.data.tokenizer import Vocab


@dataclass(frozen=True)
class QATask(TaskConfig):
    kind: str = "qa"
    max_len: int = option(256, low=8)
    doc_stride: int = option(128, low=1)
    max_query_len: int = option(64, low=1)
    max_answer_len: int = option(30, low=1)

    def check(self, kind) -> None:
        super().check(kind)
        if self.doc_stride >= self.max_len:
            raise MaskbenchError(f"task.doc_stride={self.doc_stride} must be below task.max_len={self.max_len}")
        room = self.max_len - self.max_query_len - 3  # [CLS] question [SEP] context [SEP]
        if room < 1:
            raise MaskbenchError(f"task.max_query_len={self.max_query_len} leaves no room for the context in "
                                 f"task.max_len={self.max_len}: lower task.max_query_len or raise task.max_len")
        if self.doc_stride > room:  # windows further apart than their width would skip context tokens
            raise MaskbenchError(f"task.doc_stride={self.doc_stride} exceeds the context a window holds with a "
                                 f"long question ({room} tokens of task.max_len={self.max_len} after "
                                 f"task.max_query_len={self.max_query_len}): lower task.doc_stride to at most {room}")


@dataclass
class QAFeature(Feature):
    """One window of a question's context (label: the answer's (start, end) positions, (0, 0) where the window
    lacks it), and what ties its span back to the text: the question it belongs to and each token's characters."""
    example: int         # the question's place among the examples encoded
    offsets: list        # the (start, end) characters of each context token; None outside the context


class ExtractiveQA(TaskKind):
    name = "qa"
    formats = ("squad",)
    metrics = ("f1", "exact_match")
    schema = QATask
    hf_suffix = "ForQuestionAnswering"
    hf_head = "qa_outputs"
    hf_named_labels = False       # two span logits, no label names

    def hf_logits(self, output):
        import torch

        return torch.stack([output.start_logits, output.end_logits], -1)

    def read(self, path, fmt, columns):
        return read_squad(path)

    def hub_file(self, spec, cache_root):
        ref, ds = task_dataset(spec)
        return str(squad_task_file(ref, ds, cache_root)), "squad", {}

    def label_names(self, train, where):
        return ["start", "end"]  # the two outputs per position

    def head_size(self, labels):
        return 2

    def encode(self, examples, labels, tok, vocab, arch, train):
        task = self.task
        return encode_qa(examples, tok, vocab, arch, task.max_len, task.doc_stride, task.max_query_len, train=train)

    def collate_labels(self, features, seq_len):
        import torch

        return torch.tensor([list(f.label) for f in features])

    def example_ids(self, features):
        return [f.example for f in features]  # a question's windows are one example

    def loss(self, logits, batch):
        """Mean of start and end cross-entropy over context positions; padding can never be chosen."""
        import torch.nn.functional as F

        if batch.pad_mask is not None:
            logits = logits.masked_fill(batch.pad_mask[..., None], -1e4)
        start, end = logits[..., 0], logits[..., 1]
        ys, ye = batch.labels[:, 0], batch.labels[:, 1]
        loss = (F.cross_entropy(start, ys, reduction="sum") + F.cross_entropy(end, ye, reduction="sum")) / 2
        correct = ((start.argmax(-1) == ys) & (end.argmax(-1) == ye)).sum()
        return loss, ys.new_tensor(ys.numel()), correct

    def scorer(self, examples):
        return SpanScorer(self, examples)

    # -- prediction ------------------------------------------------------------------------------------
    input_formats = ("json", "jsonl")

    def from_text(self, text, pair):
        if pair is None:
            raise MaskbenchError("a QA model takes the question as --text and the context as --text-pair")
        return QAExample("1", text, pair, [])

    def read_inputs(self, path, fmt):
        if fmt == "json":
            return read_squad(path, PREDICT)
        if fmt == "jsonl":
            return read_qa_lines(path)
        return [QAExample(str(n), q, c, [], line=n) for n, (q, c) in read_plain_lines(path, 2, "QUESTION\tCONTEXT")]

    def labelled(self, examples):
        return all(e.answers for e in examples)

    def predictor(self, labels, examples):
        return SpanPredictor(labels, examples, self.task.max_answer_len)


def best_spans(start, end, context, max_answer: int):
    """Best (i, j) with i <= j < i + max_answer inside the context, per row. Returns (i, j, score)."""
    import torch

    B, S = start.shape
    scores = start[:, :, None] + end[:, None, :]
    i = torch.arange(S)[:, None]
    j = torch.arange(S)[None, :]
    valid = (j >= i) & (j < i + max_answer)
    valid = valid[None] & context[:, :, None] & context[:, None, :]
    scores = scores.masked_fill(~valid, float("-inf"))
    flat = scores.view(B, -1).argmax(1)
    return flat // S, flat % S, scores.view(B, -1).max(1).values


def window_answers(logits, features, max_answer: int):
    """The best span of each window: (feature, char start, char end, logit score, probability) per row, the
    probability being p(start) * p(end) with each softmax over the window's context positions. Rows whose best
    span is not in the context (no context in the window) are left out."""
    import torch

    logits = logits.float().cpu()
    ctx = torch.zeros(logits.shape[:2], dtype=torch.bool)
    for r, f in enumerate(features):
        ctx[r, :len(f.offsets)] = torch.tensor([o is not None for o in f.offsets])
    i, j, score = best_spans(logits[..., 0], logits[..., 1], ctx, max_answer)
    p = logits.masked_fill(~ctx[..., None], float("-inf")).softmax(1)  # per window, over its context
    rows = torch.arange(len(features))
    prob = (p[rows, i, 0] * p[rows, j, 1]).tolist()
    for r, f in enumerate(features):
        if f.offsets[int(i[r])] is None:
            continue
        yield f, f.offsets[int(i[r])][0], f.offsets[int(j[r])][1], float(score[r]), prob[r]


class SpanScorer(Scorer):
    """The best-scoring span of each question over all its windows, then the official EM / F1."""

    def __init__(self, kind, examples):
        super().__init__(kind)
        self.examples, self.max_answer = examples, kind.task.max_answer_len
        self.best: dict[int, tuple[float, str]] = {}

    def add(self, logits, batch, features):
        for f, a, b, score, _ in window_answers(logits, features, self.max_answer):
            if f.example not in self.best or score > self.best[f.example][0]:
                self.best[f.example] = (score, self.examples[f.example].context[a:b])

    def finish(self):
        from maskbench.tasks.squad_metric import squad_example_scores

        # Keyed by the example's place, not its id: two questions sharing an id are two inputs, scored twice.
        preds = {n: text for n, (_, text) in self.best.items()}
        per = squad_example_scores(preds, {n: ex.answers for n, ex in enumerate(self.examples)})
        n = max(len(per), 1)
        pick = 0 if self.metric == "exact_match" else 1
        units = {"metric": self.metric, "num": [per[k][pick] for k in range(len(self.examples))],
                 "den": [1] * len(self.examples)}
        return {"exact_match": round(100.0 * sum(e for e, _ in per.values()) / n, 3),
                "f1": round(100.0 * sum(f for _, f in per.values()) / n, 3)}, units


class SpanPredictor(Predictor):
    """{"input", "line", "id", "answer", "start", "end", "score"} per question: the span chosen as evaluation chooses it (best
    start + end logit over all windows), its character span in the context (end exclusive) and probability."""

    def __init__(self, labels, examples, max_answer: int):
        super().__init__(labels, examples)
        self.max_answer = max_answer
        self.best: dict[int, tuple] = {}

    def add(self, logits, batch, features):
        for f, a, b, score, prob in window_answers(logits, features, self.max_answer):
            if f.example not in self.best or score > self.best[f.example][0]:
                self.best[f.example] = (score, a, b, prob)

    def rows(self):
        out = []
        for n, ex in enumerate(self.examples):
            _, a, b, prob = self.best.get(n, (None, None, None, None))
            out.append({**self.source(n), "id": ex.qid, "answer": ex.context[a:b] if a is not None else "",
                        "start": a, "end": b, "score": prob})
        return out


@dataclass
class QAExample:
    qid: str
    question: str
    context: str
    answers: list[str]
    answer_starts: list[int] = field(default_factory=list)
    line: int | None = None    # the file line of a JSON-lines or text input (None: SQuAD JSON, --text)


def read_squad(path, purpose: Purpose = TRAINING) -> list[QAExample]:
    """SQuAD v1.1 JSON. For predict (`purpose`), questions without "answers" are read as unanswered."""
    p = check_task_file(path, purpose)
    try:
        data = json.loads("\n".join(read_lines(p)))
    except json.JSONDecodeError as exc:
        raise MaskbenchError(f"{p} line {exc.lineno} is not JSON: expected SQuAD v1.1 JSON") from None
    except RecursionError:
        raise MaskbenchError(f"{p} nests too deeply to be SQuAD v1.1 JSON") from None
    out = []
    where = "data[]"
    try:
        for a, article in enumerate(_items(data, "data")):
            for b, para in enumerate(_items(article, "paragraphs")):
                where = f"data[{a}].paragraphs[{b}]"
                context = _text(para, "context")
                for c, qa in enumerate(_items(para, "qas")):
                    where = f"data[{a}].paragraphs[{b}].qas[{c}]"
                    answers = qa.get("answers", []) if purpose.predict else _items(qa, "answers")
                    if not isinstance(answers, list) or not all(isinstance(x, dict) for x in answers):
                        raise TypeError("answers")
                    if not purpose.predict and not answers:
                        raise MaskbenchError(f"{p}: {where} (question {qa.get('id')}) has no answers: SQuAD v1.1 "
                                             f"needs at least one per question (SQuAD v2's unanswerable ones are "
                                             f"not supported): drop it")
                    out.append(QAExample(str(_plain(qa, "id")), _text(qa, "question"), context,
                                         [_text(x, "text") for x in answers],
                                         [_plain(x, "answer_start") for x in answers]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise MaskbenchError(f"{p} is not SQuAD v1.1 JSON ({where}: missing or wrong {exc}): expected "
                             f"data[].paragraphs[].qas[] with context, id, question and answers") from None
    if not out:
        raise MaskbenchError(f"{p} has no questions")
    for ex in out:  # a wrong offset would silently train on the wrong span
        for text, start in zip(ex.answers, ex.answer_starts):
            if not is_int(start) or ex.context[start:start + len(text)] != text:
                found = ex.context.find(text)
                hint = f"the text occurs at {found}" if found >= 0 else "the text is not in the context"
                raise MaskbenchError(f"{p}: question {ex.qid}: answer_start {start} does not point at its answer "
                                     f"{text[:40]!r} ({hint}): fix the offsets")
    return out


def _items(obj, key: str) -> list:
    """obj[key], which must be a list (else KeyError / TypeError naming the key)."""
    value = obj[key]
    if not isinstance(value, list):
        raise TypeError(key)
    return value


def _text(obj, key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise TypeError(key)
    return value


def _plain(obj, key: str):
    """A string or integer (an id, an offset): never a list or mapping, which would index nothing."""
    value = obj[key]
    if isinstance(value, (dict, list)) or value is None:
        raise TypeError(key)
    return value


def read_qa_lines(path) -> list[QAExample]:
    """JSON lines {"question", "context"} (optional "id", and "answers" as a list of texts) for predict."""
    p = check_task_file(path, PREDICT)
    out = []
    for i, row in json_objects(p, read_lines(p), 'expected {"question": ..., "context": ...}'):
        if not all(isinstance(row.get(k), str) for k in ("question", "context")):
            raise MaskbenchError(f"{p} line {i} needs \"question\" and \"context\" texts")
        answers = row.get("answers") or []
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise MaskbenchError(f"{p} line {i}: \"answers\" must be a list of texts")
        out.append(QAExample(str(row.get("id", i)), row["question"], row["context"], answers, line=i))
    if not out:
        raise MaskbenchError(f"{p} has no questions")
    return out


def encode_qa(examples, tok, vocab: Vocab, arch: str, max_len: int, stride: int, max_query: int,
              train: bool) -> list[QAFeature]:
    """[CLS] question [SEP] context-window [SEP], windows `stride` tokens apart."""
    start_id, end_id = arch_of(arch).frame(vocab)
    q_encs = tok.encode_batch([e.question for e in examples], add_special_tokens=False)
    c_encs = tok.encode_batch([e.context for e in examples], add_special_tokens=False)
    out = []
    for n, (ex, q, c) in enumerate(zip(examples, q_encs, c_encs)):
        q_ids = q.ids[:max_query]
        room = max_len - len(q_ids) - 3
        # Encoding.ids / .offsets build a new list on every access: read once (a long context was quadratic).
        c_ids, offsets = c.ids, c.offsets
        ans = None
        if train and ex.answers:
            a0 = ex.answer_starts[0]
            a1 = a0 + len(ex.answers[0])
            tok_in = [i for i, (s, e) in enumerate(offsets) if s < a1 and e > a0]
            if tok_in:
                ans = (tok_in[0], tok_in[-1])
        begin = 0
        while True:
            window = range(begin, min(begin + room, len(c_ids)))
            ids = [start_id] + q_ids + [vocab.sep] + c_ids[window.start:window.stop] + [end_id]
            types = [0] * (len(q_ids) + 2) + [1] * (len(window) + 1)
            ctx0 = len(q_ids) + 2
            offs = [None] * ctx0 + offsets[window.start:window.stop] + [None]
            label = (0, 0)
            if ans and window and ans[0] >= window.start and ans[1] < window.stop:
                label = (ans[0] - window.start + ctx0, ans[1] - window.start + ctx0)
            # Windows without the answer point at position 0 ([CLS]/[BOS]), as in BERT's SQuAD code.
            out.append(QAFeature(ids, types, label, example=n, offsets=offs))
            if window.stop >= len(c_ids):
                break
            begin += stride
    return out


def squad_task_file(ref, ds, cache_root: Path) -> Path:
    """A SQuAD-shaped dataset as SQuAD v1.1 JSON."""
    need_columns(ds, ref, ["id", "context", "question", "answers"], "a SQuAD-shaped dataset")
    target = cache_target(cache_root, ref, ds, {"qa": 1}, ".json")
    if not target.exists():
        data = [{"title": row.get("title", ""), "paragraphs": [{"context": row["context"], "qas": [{
            "id": str(row["id"]), "question": row["question"],
            "answers": [{"text": t, "answer_start": int(s)}
                        for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])]}]}]}
                for row in ds]
        write_cached(target, [json.dumps({"version": "1.1", "data": data})])
    return target
