"""What a fine-tuning task kind is: one small interface, one module per kind behind a registry
(`maskbench/tasks/__init__.py`), the way `corruption/` has one module per family.

A kind knows its file formats and metrics, how to read and encode examples, the size of its head,
how to collate labels, its loss, and how to score an evaluation set (per-example units for intervals).
Everything else — files, subsets, the training loop, run folders — is the same for every kind.

The class describes the kind (name, formats, metrics, config schema): the config checks read it before any
config exists. An instance is the kind of one task, built once from its typed config (`kind_for(task)` in
maskbench/tasks/__init__.py), and its methods read that config (`self.task`) instead of being handed it.
Torch is imported inside the tensor methods so that config validation stays torch-free.
"""

from __future__ import annotations

from maskbench.errors import MaskbenchError
from maskbench.config.schema.task import TaskConfig


class Scorer:
    """Accumulates an evaluation set batch by batch; `finish` gives (metrics, units) where units are the
    per-example (numerator, denominator) of the main metric (report/uncertainty.py resamples them)."""

    def __init__(self, kind: "TaskKind"):
        self.kind, self.metric, self.num, self.den = kind, kind.task.metric, [], []

    def add(self, logits, batch, features) -> None:
        num, den = self.kind.units(logits, batch)
        self.num += num
        self.den += den

    def finish(self) -> tuple[dict, dict]:
        value = 100.0 * sum(self.num) / max(sum(self.den), 1)
        return {self.kind.metrics[0]: round(value, 3)}, {"metric": self.metric, "num": self.num, "den": self.den}


class Predictor:
    """Turns a model's outputs on input features into one JSON-ready dict per input, in input order
    (`maskbench predict`); each kind fills `add`."""

    def __init__(self, labels: list[str], examples: list):
        self.labels, self.examples = labels, examples
        self.out: list[dict] = []

    def add(self, logits, batch, features) -> None:
        raise NotImplementedError

    def source(self, n: int) -> dict:
        """Which input row n answers: its place among the inputs (1-based) and the file line it was read from
        (null for --text), so a row is never matched to an input by position alone."""
        return {"input": n + 1, "line": getattr(self.examples[n], "line", None)}

    def rows(self) -> list[dict]:
        return self.out


class TaskKind:
    name: str = ""
    formats: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()   # the first is the default
    sentence_level: bool = False    # one prediction per input (pooled) rather than per token

    # -- transformers (maskbench/export/task.py) -------------------------------------------------------
    hf_suffix: str = ""             # the transformers task class is the family's name + this
    hf_head: str = "classifier"     # where that class keeps the head
    hf_named_labels: bool = True    # the config carries id2label / label2id

    def hf_logits(self, output):
        """The transformers task class's output in our head's layout."""
        return output.logits

    # -- configuration -------------------------------------------------------------------------------
    schema = TaskConfig             # the kind's config schema (maskbench/config/schema/task.py): fields and checks

    def __init__(self, task: TaskConfig):
        self.task = task            # an object of `schema`: the one config every method reads

    def with_task(self, task: TaskConfig) -> "TaskKind":
        """The same kind reading another view of its config (an extra evaluation file's own reader options)."""
        return type(self)(task)

    def columns(self) -> dict:
        """Reader options that an hf: file converted for this kind overrides."""
        return {}

    # -- data ------------------------------------------------------------------------------------------
    def read(self, path, fmt: str, columns: dict) -> list:
        raise NotImplementedError

    def hub_file(self, spec: str, cache_root) -> tuple[str, str, dict]:
        """(cached file, reader format, reader options) of an hf: task file, written once into the cache."""
        raise NotImplementedError

    def label_names(self, train: list, where) -> list[str]:
        """The label set: task.labels, else the sorted labels of the training examples."""
        raise NotImplementedError

    def check_labels(self, examples: list, labels: list[str], where, purpose=None) -> None:
        """Every label of `examples` is in `labels` (one-line error otherwise, offering `purpose`'s fix:
        tasks.common.TRAINING or PREDICT)."""

    def relabel(self, examples: list, mapping: dict) -> list:
        """Examples with their label names mapped (an evaluation set that names the classes differently)."""
        return examples

    def encode(self, examples: list, labels: list[str], tok, vocab, arch: str, train: bool) -> list:
        raise NotImplementedError

    def pooling(self) -> str:
        """How a sentence-level head reads the sequence (task.pooling); per-position kinds read every state."""
        return "token"

    def head_size(self, labels: list[str]) -> int:
        return len(labels)

    # -- tensors ---------------------------------------------------------------------------------------
    def collate_labels(self, features: list, seq_len: int):
        raise NotImplementedError

    def example_ids(self, features: list) -> list[int] | None:
        """Which example each feature encodes, where several features share one (QA's windows of a question);
        None: each feature is an example of its own. Subsets and example counts go by it (tasks/subsets.py)."""
        return None

    def loss(self, logits, batch) -> tuple:
        """(loss sum, count, correct) of one batch: the shared loop normalises it as in pretraining."""
        raise NotImplementedError

    def units(self, logits, batch) -> tuple[list, list]:
        raise NotImplementedError

    def scorer(self, examples: list) -> Scorer:
        """Scores `examples` by task.metric (and the kind's other metrics)."""
        return Scorer(self)

    # -- prediction (maskbench predict) ------------------------------------------------------------------
    input_formats: tuple[str, ...] = ()  # file suffixes predict reads for this kind, besides .txt

    def from_text(self, text: str, pair: str | None):
        """One input from the command line (--text, --text-pair)."""
        raise NotImplementedError

    def read_inputs(self, path, fmt: str) -> list:
        """Inputs from a file (labels optional; fmt "txt": one input per line)."""
        raise NotImplementedError

    def labelled(self, examples: list) -> bool:
        """Whether every input carries its gold answer (then predict also scores them)."""
        raise NotImplementedError

    def predictor(self, labels: list[str], examples: list) -> Predictor:
        raise NotImplementedError


def classification_loss(logits, y) -> tuple:
    import torch.nn.functional as F

    return F.cross_entropy(logits, y, reduction="sum"), y.new_tensor(y.numel()), (logits.argmax(-1) == y).sum()


def unknown_kind(name: str, known) -> MaskbenchError:
    return MaskbenchError(f"task.kind={name} is unknown: choose one of {', '.join(known)}")
