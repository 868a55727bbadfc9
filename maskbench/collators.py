"""maskbench's corruptions as data collators for transformers' `Trainer` (or any PyTorch DataLoader).

    from maskbench.collators import make_collator
    collate = make_collator("bart_infill", tokenizer, mask_prob=0.4)
    batch = collate([tokenizer(text) for text in texts])   # input_ids, attention_mask, labels

The corruption is maskbench's own (the registry in maskbench/corruption/, the same code and statistics as
`maskbench pretrain` and `corrupt --stats`), run on each example's text tokens and handed back in the
conventions transformers' models take. A preset is found where `corruption=NAME` finds it (--config-dir, ./conf,
then the packaged ones), and its objective as composition finds it, so a user's own objective
(docs/objectives_api.md: conf/corruption/NAME.yaml naming its class) collates as a built-in one does, unless
its `collator_why_not` says why it cannot:
- encoder objectives (bert_mlm, span_mlm): `[CLS] noised [SEP]`, `labels` = the original token where the
  loss reads, -100 elsewhere (BertForMaskedLM, RobertaForMaskedLM, ...);
- encoder-decoder objectives (bart_*, t5_span): the noised source framed as the tokenizer frames a text
  (`<s> ... </s>` for BART, `... </s>` for T5), `labels` = the target (-100 on padding); the model shifts
  `labels` right into its decoder input with its own start token, as it does in its own examples. T5's
  sentinels are the tokenizer's `<extra_id_0>`, `<extra_id_1>`, ... (T5 numbers them downwards).
Special tokens are found by name on the tokenizer; those already in an example (`[CLS]`, `</s>`) are removed
before corrupting, so no corruption ever selects one. Examples of different lengths are corrupted in groups
of equal length (the corruptions are batched tensor ops over equal-length blocks) and padded afterwards.

Each call draws from counter-based random numbers keyed by (seed, call, DataLoader worker, example), so a
run is reproducible. `collate.stats()` gives the same measured statistics as `maskbench corrupt --stats`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from maskbench.batch import IGNORE
from maskbench.errors import MaskbenchError, safe_reason
from maskbench.arch import arch_of
from maskbench.config.schema.corruption import CorruptionConfig
from maskbench.config.schema.objectives import check_arch

SENTENCE_ENDS = (".", "!", "?", "。", "！", "？")


def make_collator(name: str, tokenizer, seed: int = 0, arch: str | None = None, **settings) -> "Collator":
    """A collator for corruption `name` (a preset of `maskbench config list corruption`, packaged or the user's
    own) with `settings` as its config keys (e.g. mask_prob=0.4), for a transformers tokenizer. `arch`: encoder |
    encoder_decoder (default: the corruption's first; bert_mlm and span_mlm serve both)."""
    cfg = corruption_config(name, settings)
    if cfg.collator_why_not:  # the objective says why no collator can serve it
        raise MaskbenchError(f"{name} has no collator: {cfg.collator_why_not}")
    arch = arch or cfg.archs[0]
    check_arch(cfg, arch)
    collator = Collator(cfg, arch, tokenizer, seed)
    if collator.corruption.needs_partner:  # a collator is given single examples, never a second document
        raise MaskbenchError(f"{name} has no collator: it pairs each example with a second document (next-sentence "
                             f"pairs), which a collator of single examples cannot give: collate it without them "
                             f"(e.g. nsp=false)")
    return collator


def corruption_config(name: str, settings: dict):
    """The preset `name` (where `corruption=NAME` finds it) with `settings` merged in, checked by its objective's
    schema: a built-in one by its family, a user's own by its `objective` (config/schema/objectives.py)."""
    from omegaconf import OmegaConf

    from maskbench.config import group_options, option_file
    from maskbench.config.typed import typed_group

    preset = option_file("corruption", name) if isinstance(name, str) and name and "/" not in name else None
    if preset is None or not preset.is_file():
        raise MaskbenchError(f"corruption {name!r} is unknown: choose one of {', '.join(group_options('corruption'))}")
    try:
        node = OmegaConf.merge(OmegaConf.load(preset), settings)
    except Exception as exc:  # a value OmegaConf cannot hold (an object, a tensor)
        raise MaskbenchError(f"make_collator({name!r}): the settings are not plain config values "
                             f"({safe_reason(exc, 100)}): give numbers, strings, booleans or lists") from None
    return typed_group("corruption", node)


class Collator:
    """list of tokenized examples -> dict of tensors (see the module docstring)."""

    def __init__(self, cfg: CorruptionConfig, arch: str, tokenizer, seed: int = 0):
        from maskbench.corruption.registry import build_corruption

        self.cfg, self.arch, self.tokenizer, self.seed = cfg, arch, tokenizer, seed
        self.vocab, self.sentinels = collator_vocab(tokenizer, cfg)
        words = continuation_table(tokenizer, cfg, self.vocab.size) if cfg.reads_word_starts else None
        self.corruption = build_corruption(cfg, arch, self.vocab, words)
        # T5's tokenizers have no start token ([CLS] or <s>): their texts are `text </s>`
        self.framed_with_bos = tokenizer.bos_token_id is not None or tokenizer.cls_token_id is not None
        self.strip = torch.zeros(self.vocab.size, dtype=torch.bool)
        self.strip[list(set(self.vocab.special_ids) - {self.vocab.unk})] = True
        ends = [tokenizer.convert_tokens_to_ids(t) for t in SENTENCE_ENDS if t in tokenizer.get_vocab()]
        self.ends = torch.tensor(sorted(set(ends)), dtype=torch.long)
        self.calls, self.accumulator = 0, None

    def __call__(self, examples: list) -> dict:
        from maskbench.corruption.keyed_random import example_keys

        if isinstance(examples, (Mapping, str, bytes)) or not hasattr(examples, "__iter__"):
            raise TypeError(f"a collator takes a list of tokenized examples (dicts with input_ids, or id lists), "
                            f"not {type(examples).__name__}")
        contents = [self._content(e, n) for n, e in enumerate(examples)]
        if not contents:
            raise ValueError("a collator needs at least one example: the batch is empty")
        worker = torch.utils.data.get_worker_info()
        keys = example_keys(self.seed + 7919 * (worker.id if worker else 0), self.calls, torch.arange(len(contents)))
        self.calls += 1
        parts: list = [None] * len(contents)
        for length in sorted({len(c) for c in contents}):  # equal-length groups: one batched corruption each
            rows = [n for n, c in enumerate(contents) if len(c) == length]
            out = self.corruption(self._blocks([contents[n] for n in rows], rows), keys[rows])
            if self.accumulator is not None:
                self.accumulator.update(out, out.diag.original)
            for i, n in enumerate(rows):
                parts[n] = self._row(out, i)
        return self._pad(parts)

    def stats(self) -> dict:
        """Measured statistics of every batch since `measure()` (the fields of `maskbench corrupt --stats`)."""
        if self.accumulator is None:
            raise MaskbenchError("call collate.measure() before the batches to measure")
        return self.accumulator.result()

    def measure(self) -> "Collator":
        from maskbench.corruption.stats import StatsAccumulator

        self.accumulator = StatsAccumulator(self.cfg.name, self.vocab)
        return self

    # -- pieces ------------------------------------------------------------------------------------------
    def _content(self, example, n: int) -> torch.Tensor:
        if isinstance(example, Mapping) and "input_ids" not in example:
            raise MaskbenchError(f"example {n} has no input_ids (its keys: {', '.join(map(str, list(example)[:5]))}): "
                                 f"tokenize the texts first")
        ids = example["input_ids"] if isinstance(example, Mapping) else example  # a dict or BatchEncoding
        try:
            ids = torch.as_tensor(ids, dtype=torch.long).flatten()
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise TypeError(f"example {n}: input_ids must be a list of integer token ids, not "
                            f"{type(ids).__name__}") from None
        if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= self.tokenizer_size):
            raise MaskbenchError(f"example {n} has ids outside this tokenizer (0..{self.tokenizer_size - 1}): "
                                 f"tokenize with the tokenizer given to make_collator")
        ids = ids[~self.strip[ids]]
        if len(ids) < 2:
            raise MaskbenchError(f"example {n} has {len(ids)} text tokens: a corruption needs at least 2 "
                                 f"(drop empty texts before collating)")
        return ids

    @property
    def tokenizer_size(self) -> int:
        return self.vocab.size - len(self.sentinels)

    def _blocks(self, contents: list, rows: list):
        from maskbench.data.blocks import Blocks

        tokens = torch.stack(contents)
        sent = torch.zeros_like(tokens, dtype=torch.bool)
        sent[:, 0] = True
        if len(self.ends):  # a sentence starts after a full stop (sentence permutation reads these)
            sent[:, 1:] = torch.isin(tokens[:, :-1], self.ends)
        doc = torch.tensor(rows, dtype=torch.long)[:, None].expand_as(tokens).contiguous()
        return Blocks(tokens, sent, doc)

    def _row(self, out, i: int) -> dict:
        """One example of maskbench's framed batch in transformers' conventions (unpadded)."""
        ids, labels = out.input_ids[i], out.labels[i]
        if out.pad_mask is not None:
            ids = ids[~out.pad_mask[i]]
        if arch_of(self.arch).encoder_only:
            labels = labels[:len(ids)]
        else:
            labels = labels[labels != IGNORE]  # the target, eos included
            if not self.framed_with_bos:  # T5: `text </s>`, no start token
                ids = ids[1:]
        if len(self.sentinels):
            ids, labels = self._to_extra_ids(ids), self._to_extra_ids(labels)
        return {"input_ids": ids, "labels": labels}

    def _to_extra_ids(self, t: torch.Tensor) -> torch.Tensor:
        first = self.tokenizer_size
        extra = t >= first
        if bool(extra.any()):
            t = t.clone()
            t[extra] = self.sentinels[t[extra] - first]
        return t

    def _pad(self, rows: list[dict]) -> dict:
        pad = self.vocab.pad
        S = max(len(r["input_ids"]) for r in rows)
        T = max(len(r["labels"]) for r in rows)
        ids = torch.full((len(rows), S), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), S), dtype=torch.long)
        labels = torch.full((len(rows), T), IGNORE, dtype=torch.long)
        for n, r in enumerate(rows):
            ids[n, :len(r["input_ids"])] = r["input_ids"]
            mask[n, :len(r["input_ids"])] = 1
            labels[n, :len(r["labels"])] = r["labels"]
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def continuation_table(tokenizer, cfg: CorruptionConfig, size: int) -> torch.Tensor:
    """is_continuation[id] for an objective that reads word starts (whole-word masking): WordPiece's '##' pieces,
    as maskbench's own tokenizers mark them. A tokenizer without any (BPE, SentencePiece) marks no word: refused,
    rather than masking single pieces under the name of whole words."""
    table = torch.zeros(size, dtype=torch.bool)
    for piece, idx in tokenizer.get_vocab().items():
        table[idx] = piece.startswith("##")
    if not bool(table.any()):
        raise MaskbenchError(f"{cfg.name} masks whole words, which it finds by WordPiece's '##' pieces, and this "
                             f"tokenizer has none: use a WordPiece (BERT) tokenizer or whole_word=false")
    return table


def collator_vocab(tokenizer, cfg: CorruptionConfig):
    """maskbench's Vocab for a transformers tokenizer, its roles found by name; T5's `<extra_id_N>` become
    virtual sentinel ids after the vocabulary (mapped back on output). Returns (vocab, sentinel ids)."""
    from maskbench.data.tokenizer import Vocab

    if not all(hasattr(tokenizer, a) for a in ("pad_token_id", "convert_tokens_to_ids", "get_vocab", "__len__")):
        raise TypeError(f"make_collator takes a transformers tokenizer (AutoTokenizer.from_pretrained), not "
                        f"{type(tokenizer).__name__}")
    size = len(tokenizer)
    t = tokenizer
    pad, unk = t.pad_token_id, t.unk_token_id
    if pad is None:
        raise MaskbenchError("the tokenizer has no pad token: set one (tokenizer.pad_token = ...) before collating")
    unk = pad if unk is None else unk
    cls = t.cls_token_id if t.cls_token_id is not None else t.bos_token_id
    sep = t.sep_token_id if t.sep_token_id is not None else t.eos_token_id
    bos = t.bos_token_id if t.bos_token_id is not None else cls
    eos = t.eos_token_id if t.eos_token_id is not None else sep
    mask = t.mask_token_id
    if mask is None and cfg.writes_mask:
        raise MaskbenchError("the tokenizer has no mask token, which this corruption writes: add one "
                             "(tokenizer.add_special_tokens({'mask_token': '[MASK]'})) and resize the model's embeddings")
    if eos is None or (bos is None and not cfg.needs_sentinels):
        raise MaskbenchError("the tokenizer has no end-of-text token ([SEP] or </s>): use a BERT, RoBERTa, BART or "
                             "T5 tokenizer")
    sentinels = []
    if cfg.needs_sentinels:  # T5's <extra_id_N>, or a maskbench vocabulary's [XN]
        vocab = t.get_vocab()
        for pattern in ("<extra_id_{}>", "[X{}]"):
            while not sentinels or len(sentinels) < 1000:
                name = pattern.format(len(sentinels))
                if name not in vocab:
                    break
                sentinels.append(vocab[name])
            if sentinels:
                break
        if not sentinels:
            raise MaskbenchError(f"{cfg.name} needs sentinel tokens: the tokenizer has no <extra_id_0>, <extra_id_1>, ... "
                                 "(a T5 tokenizer has 100)")
    filler = unk  # roles a family never writes (T5 has no [CLS] or [MASK])
    roles = {"pad": pad, "unk": unk, "cls": cls if cls is not None else filler, "sep": sep,
             "mask": mask if mask is not None else filler, "bos": bos if bos is not None else filler, "eos": eos}
    specials = set(t.all_special_ids) | set(roles.values()) | set(sentinels) | set(range(size, size + len(sentinels)))
    vocab = Vocab(size=size + len(sentinels), sentinel0=size, n_sentinels=len(sentinels),
                  special_ids=tuple(sorted(specials)), **roles)
    return vocab, torch.tensor(sentinels, dtype=torch.long)
