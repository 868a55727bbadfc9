"""WordPiece tokenizer (BERT normalisation, CJK characters split) with every special token reserved.

Special ids are contiguous from 0, so `id < n_special` tests "special" in one tensor op:
[PAD] [UNK] [CLS] [SEP] [MASK] [BOS] [EOS] then sentinels [X0]..[X{n-1}] for T5 span corruption.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

BASE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"]


def special_tokens(n_sentinels: int) -> list[str]:
    return BASE_SPECIALS + [f"[X{i}]" for i in range(n_sentinels)]


@dataclass(frozen=True)
class Vocab:
    """The ids the corruptions and models need, read off a trained tokenizer."""

    size: int
    n_special: int
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    bos: int
    eos: int
    sentinel0: int
    n_sentinels: int

    @classmethod
    def from_tokenizer(cls, tok) -> "Vocab":
        ids = {t: tok.token_to_id(t) for t in BASE_SPECIALS}
        n_sent = 0
        while tok.token_to_id(f"[X{n_sent}]") is not None:
            n_sent += 1
        n_special = len(BASE_SPECIALS) + n_sent
        # The layout is what makes `id < n_special` a correct special test: check it.
        expected = special_tokens(n_sent)
        assert [tok.id_to_token(i) for i in range(n_special)] == expected, "special ids must come first"
        return cls(size=tok.get_vocab_size(), n_special=n_special, pad=ids["[PAD]"], unk=ids["[UNK]"],
                   cls=ids["[CLS]"], sep=ids["[SEP]"], mask=ids["[MASK]"], bos=ids["[BOS]"],
                   eos=ids["[EOS]"], sentinel0=len(BASE_SPECIALS), n_sentinels=n_sent)


def train_tokenizer(sentences: Iterable[list[str]], vocab_size: int, n_sentinels: int, lowercase: bool = True):
    """Train WordPiece from an iterator of sentence batches (streams: bounded memory)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=special_tokens(n_sentinels), min_frequency=2,
        show_progress=False, continuing_subword_prefix="##")
    tok.train_from_iterator(sentences, trainer=trainer)
    # Corpus text that literally contains "[MASK]" must be split like any text, never become a special id.
    tok.encode_special_tokens = True
    return tok


def load_tokenizer(path: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.encode_special_tokens = True
    return tok


def continuation_table(tok) -> list[bool]:
    """is_continuation[id]: True for '##' pieces (used for whole-word masking)."""
    vocab = tok.get_vocab()
    table = [False] * tok.get_vocab_size()
    for piece, idx in vocab.items():
        table[idx] = piece.startswith("##")
    return table


def save_tokenizer(tok, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tok.to_str(), encoding="utf-8")
    tmp.replace(path)

