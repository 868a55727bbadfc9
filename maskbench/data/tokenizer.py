"""WordPiece tokenizer (BERT normalisation, CJK characters split) with every special token reserved.

maskbench's own vocabularies put the special ids first, contiguous from 0:
[PAD] [UNK] [CLS] [SEP] [MASK] [BOS] [EOS] then sentinels [X0]..[X{n-1}] for T5 span corruption.
A vocabulary from elsewhere (a transformers model's) keeps its own ids: `Vocab` finds every special by
name and answers "is this special?" with a lookup table, one tensor op either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from maskbench.errors import MaskbenchError

BASE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"]


def special_tokens(n_sentinels: int) -> list[str]:
    return BASE_SPECIALS + [f"[X{i}]" for i in range(n_sentinels)]


# Where a vocabulary from elsewhere (BERT, RoBERTa, BART ...) keeps each special role: looked up by
# name, in this order, never by number. An explicit map (a transformers folder's special-token map) wins.
ROLE_NAMES = {
    "pad": ("[PAD]", "<pad>"), "unk": ("[UNK]", "<unk>"), "cls": ("[CLS]", "<s>"), "sep": ("[SEP]", "</s>"),
    "mask": ("[MASK]", "<mask>"), "bos": ("[BOS]", "<s>", "[CLS]"), "eos": ("[EOS]", "</s>", "[SEP]"),
}


@dataclass(frozen=True)
class Vocab:
    """The ids the corruptions and models need, read off a tokenizer.

    `special_ids` holds every id that is not text (pad, cls, sep, mask, bos, eos, sentinels, any other
    special token the tokenizer declares, and [UNK]); corruptions never select those (except [UNK],
    which stands for text) and never sample any of them as a random replacement. maskbench's own
    vocabularies keep them contiguous from 0; a vocabulary from elsewhere may have them anywhere."""

    size: int
    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    bos: int
    eos: int
    sentinel0: int
    n_sentinels: int
    special_ids: tuple[int, ...]
    _tables: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_tokenizer(cls, tok, roles: dict[str, str] | None = None) -> "Vocab":
        """Find each special role by name (`roles` maps role -> token string where a folder says so)."""
        ids = {}
        for role, names in ROLE_NAMES.items():
            names = ((roles or {}).get(role),) + names if (roles or {}).get(role) else names
            found = next((tok.token_to_id(n) for n in names if n and tok.token_to_id(n) is not None), None)
            if found is None:
                raise MaskbenchError(
                    f"the vocabulary has no {role} token (looked for {', '.join(n for n in names if n)}): "
                    f"use a BERT/RoBERTa/BART-style tokenizer or one trained by maskbench")
            ids[role] = found
        n_sent = 0
        while tok.token_to_id(f"[X{n_sent}]") is not None:
            n_sent += 1
        sentinel0 = tok.token_to_id("[X0]") if n_sent else tok.get_vocab_size()
        if n_sent and [tok.token_to_id(f"[X{i}]") for i in range(n_sent)] != list(range(sentinel0, sentinel0 + n_sent)):
            raise MaskbenchError("the vocabulary's sentinels [X0].. are not consecutive ids: retrain the tokenizer")
        declared = {i for i, t in tok.get_added_tokens_decoder().items() if t.special}
        specials = declared | set(ids.values()) | set(range(sentinel0, sentinel0 + n_sent))
        return cls(size=tok.get_vocab_size(), sentinel0=sentinel0, n_sentinels=n_sent,
                   special_ids=tuple(sorted(specials)), **ids)

    @property
    def n_special(self) -> int:
        return len(self.special_ids)

    @property
    def is_native(self) -> bool:
        """maskbench's own layout: specials contiguous from id 0."""
        return self.special_ids == tuple(range(len(self.special_ids)))

    def _table(self, kind: str, device):
        key = (kind, str(device))
        if key not in self._tables:
            import torch

            special = torch.zeros(self.size, dtype=torch.bool)
            special[list(self.special_ids)] = True
            if kind == "special":
                table = special
            elif kind == "selectable_special":  # never selected by a corruption: [UNK] stands for text
                table = special.clone()
                table[self.unk] = False
            else:  # the ids a random replacement may take, ascending
                table = (~special).nonzero().squeeze(1)
            self._tables[key] = table.to(device)
        return self._tables[key]

    def special_table(self, device="cpu"):
        """[V] bool: True at every special id, [UNK] included."""
        return self._table("special", device)

    def unselectable_table(self, device="cpu"):
        """[V] bool: True at the ids no corruption may select (specials except [UNK])."""
        return self._table("selectable_special", device)

    def text_ids(self, device="cpu"):
        """The non-special ids, ascending: what a random replacement samples from."""
        return self._table("text", device)


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

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:
        raise MaskbenchError(f"{path} is not a tokenizers tokenizer.json ({str(exc).splitlines()[0][:120]}): "
                             f"give one written by maskbench or by a transformers fast tokenizer") from None
    # Corpus text is encoded bare: a folder's post-processor, truncation or padding must not add ids.
    tok.no_truncation()
    tok.no_padding()
    tok.encode_special_tokens = True
    return tok


def add_sentinels(tok, n: int):
    """Append T5 sentinels [X0]..[X{n-1}] to a vocabulary that lacks them (a transformers model's); the
    ids of everything else stay, so a token cache built with the original stays valid."""
    from tokenizers import AddedToken

    if n and tok.token_to_id("[X0]") is None:
        tok.add_special_tokens([AddedToken(f"[X{i}]", special=True, normalized=False) for i in range(n)])
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

