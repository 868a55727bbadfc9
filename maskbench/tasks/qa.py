"""Extractive QA (SQuAD v1.1): start/end logits over the context, long contexts windowed with a document
stride, the best valid span per question over its windows; official EM / F1."""

from __future__ import annotations

from maskbench.schema.task import QATask
from maskbench.tasks.base import Scorer, TaskKind


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


class SpanScorer(Scorer):
    """The best-scoring span of each question over all its windows, then the official EM / F1."""

    def __init__(self, kind, metric, examples, max_answer: int):
        super().__init__(kind, metric)
        self.examples, self.max_answer = examples, max_answer
        self.best: dict[int, tuple[float, str]] = {}

    def add(self, logits, batch, features):
        import torch

        logits = logits.cpu()
        ctx = torch.zeros(logits.shape[:2], dtype=torch.bool)
        for r, f in enumerate(features):
            ctx[r, :len(f.offsets)] = torch.tensor([o is not None for o in f.offsets])
        i, j, score = best_spans(logits[..., 0], logits[..., 1], ctx, self.max_answer)
        for r, f in enumerate(features):
            ex = self.examples[f.example]
            if f.offsets[int(i[r])] is None:
                continue
            text = ex.context[f.offsets[int(i[r])][0]:f.offsets[int(j[r])][1]]
            if f.example not in self.best or float(score[r]) > self.best[f.example][0]:
                self.best[f.example] = (float(score[r]), text)

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
