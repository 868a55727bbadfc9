"""Extractive QA (SQuAD v1.1): start/end logits over the context, long contexts windowed with a document
stride, the best valid span per question over its windows; official EM / F1."""

from __future__ import annotations

from maskbench.errors import MaskbenchError
from maskbench.schema.task import QATask
from maskbench.tasks.base import Predictor, Scorer, TaskKind


class ExtractiveQA(TaskKind):
    name = "qa"
    formats = ("squad",)
    metrics = ("f1", "exact_match")
    schema = QATask

    def read(self, task, path, fmt, columns):
        from maskbench.data.tasks import read_squad

        return read_squad(path)

    def hub_file(self, spec, task, cache_root):
        from maskbench.data.hub import squad_task_file, task_dataset

        ref, ds = task_dataset(spec)
        return str(squad_task_file(ref, ds, cache_root)), "squad", {}

    def label_names(self, train, task, where):
        return ["start", "end"]  # the two outputs per position

    def head_size(self, labels):
        return 2

    def encode(self, examples, labels, tok, vocab, arch, task, train):
        from maskbench.data.task_features import encode_qa

        return encode_qa(examples, tok, vocab, arch, task.max_len, task.doc_stride, task.max_query_len, train=train)

    def collate_labels(self, features, seq_len):
        import torch

        return torch.tensor([list(f.label) for f in features])

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

    def scorer(self, metric, examples, task):
        return SpanScorer(self, metric, examples, task.max_answer_len)

    # -- prediction ------------------------------------------------------------------------------------
    input_formats = ("json", "jsonl")

    def from_text(self, text, pair):
        from maskbench.data.tasks import QAExample

        if pair is None:
            raise MaskbenchError("a QA model takes the question as --text and the context as --text-pair")
        return QAExample("0", text, pair, [])

    def read_inputs(self, task, path, fmt):
        from maskbench.data.tasks import QAExample, read_plain_lines, read_qa_lines, read_squad

        if fmt == "json":
            return read_squad(path, answers_optional=True)
        if fmt == "jsonl":
            return read_qa_lines(path)
        return [QAExample(str(n), q, c, []) for n, (q, c) in enumerate(read_plain_lines(path, 2, "QUESTION\tCONTEXT"))]

    def labelled(self, examples):
        return all(e.answers for e in examples)

    def predictor(self, labels, examples, task):
        return SpanPredictor(labels, examples, task)


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

    def __init__(self, kind, metric, examples, max_answer: int):
        super().__init__(kind, metric)
        self.examples, self.max_answer = examples, max_answer
        self.best: dict[int, tuple[float, str]] = {}

    def add(self, logits, batch, features):
        for f, a, b, score, _ in window_answers(logits, features, self.max_answer):
            if f.example not in self.best or score > self.best[f.example][0]:
                self.best[f.example] = (score, self.examples[f.example].context[a:b])

    def finish(self):
        from maskbench.data.squad_metric import squad_example_scores

        preds = {self.examples[n].qid: text for n, (_, text) in self.best.items()}
        per = squad_example_scores(preds, {ex.qid: ex.answers for ex in self.examples})
        n = max(len(per), 1)
        pick = 0 if self.metric == "exact_match" else 1
        units = {"metric": self.metric, "num": [per[ex.qid][pick] for ex in self.examples],
                 "den": [1] * len(self.examples)}
        return {"exact_match": round(100.0 * sum(e for e, _ in per.values()) / n, 3),
                "f1": round(100.0 * sum(f for _, f in per.values()) / n, 3)}, units


class SpanPredictor(Predictor):
    """{"id", "answer", "start", "end", "score"} per question: the span chosen as evaluation chooses it (best
    start + end logit over all windows), its character span in the context (end exclusive) and probability."""

    def __init__(self, labels, examples, task):
        super().__init__(labels, examples, task)
        self.best: dict[int, tuple] = {}

    def add(self, logits, batch, features):
        for f, a, b, score, prob in window_answers(logits, features, self.task.max_answer_len):
            if f.example not in self.best or score > self.best[f.example][0]:
                self.best[f.example] = (score, a, b, prob)

    def rows(self):
        out = []
        for n, ex in enumerate(self.examples):
            _, a, b, prob = self.best.get(n, (None, None, None, None))
            out.append({"id": ex.qid, "answer": ex.context[a:b] if a is not None else "", "start": a, "end": b,
                        "score": prob})
        return out
