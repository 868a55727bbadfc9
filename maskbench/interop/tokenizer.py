"""Tokenizers across the border.

Out: maskbench's tokenizer.json plus the post-processor transformers users expect (`[CLS] A [SEP]`,
pairs `[CLS] A [SEP] B [SEP]` with segment ids 0/1; `[BOS] A [EOS]` for the encoder-decoder), a
special-token map, and literal "[MASK]" in text read as the mask token, as a transformers tokenizer
does. In: a transformers folder's fast tokenizer, bare (maskbench frames inputs itself), with its
special tokens checked by name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from maskbench.data.tokenizer import ROLE_NAMES, Vocab, load_tokenizer
from maskbench.errors import MaskbenchError
from maskbench.arch import arch_of

_HF_ROLE = {"pad": "pad_token", "unk": "unk_token", "cls": "cls_token", "sep": "sep_token", "mask": "mask_token",
            "bos": "bos_token", "eos": "eos_token"}


def export_tokenizer(tokenizer_json: Path, arch: str, max_len: int, out: Path) -> None:
    """Write tokenizer.json + tokenizer_config.json + special_tokens_map.json into `out`."""
    from tokenizers import Tokenizer, processors

    from maskbench.interop import require_transformers

    transformers = require_transformers()
    tok = Tokenizer.from_file(str(tokenizer_json))
    vocab = Vocab.from_tokenizer(tok)
    name = tok.id_to_token
    a = arch_of(arch)
    first, last = (name(i) for i in a.frame(vocab))
    if a.segments:
        pair = f"{first} $A:0 {last}:0 $B:1 {last}:1"
    else:
        pair = f"{first} $A {name(vocab.sep)} $B {last}"  # maskbench's encoder-decoder pair framing
    used = {first, last, name(vocab.sep)}
    tok.post_processor = processors.TemplateProcessing(
        single=f"{first} $A:0 {last}:0" if a.segments else f"{first} $A {last}", pair=pair,
        special_tokens=[(t, tok.token_to_id(t)) for t in sorted(used)])
    tok.encode_special_tokens = False  # "[MASK]" typed by a user is the mask token, as in transformers
    tok.no_truncation()
    tok.no_padding()
    inputs = ["input_ids", "token_type_ids", "attention_mask"] if a.segments else ["input_ids", "attention_mask"]
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=max_len, model_input_names=inputs,
        **{_HF_ROLE[r]: name(getattr(vocab, r)) for r in _HF_ROLE})
    fast.save_pretrained(str(out))


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")


def import_tokenizer(folder: Path, cache_root: Path) -> Path:
    """The folder's tokenizer as a bare tokenizer.json in the cache (keyed by content); its special
    tokens must be findable by name, whatever their ids."""
    from maskbench.interop import hf_load, require_transformers

    transformers = require_transformers()
    if not any((Path(folder) / name).exists() for name in TOKENIZER_FILES):
        # transformers 5 builds a 5-token tokenizer from nothing here: every word would be [UNK]
        raise MaskbenchError(f"{folder} has no tokenizer files (none of {', '.join(TOKENIZER_FILES)}): save its "
                             f"tokenizer into it with tokenizer.save_pretrained()")
    hf = hf_load(transformers.AutoTokenizer.from_pretrained, folder,
                 f"{folder} has no tokenizer transformers can load ({{why}}): save one into it with "
                 f"tokenizer.save_pretrained()")
    if not getattr(hf, "is_fast", False):
        raise MaskbenchError(f"{folder}'s tokenizer has no fast (tokenizers) version: maskbench needs one")
    text = hf.backend_tokenizer.to_str()
    path = cache_root / "imported" / hashlib.sha256(text.encode()).hexdigest()[:16] / "tokenizer.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    tok = load_tokenizer(path)
    vocab = Vocab.from_tokenizer(tok)
    for role, attr in _HF_ROLE.items():  # the folder's own map must agree with the lookup by name
        declared = getattr(hf, attr, None)
        if declared and tok.token_to_id(declared) is not None and tok.token_to_id(declared) != getattr(vocab, role):
            if declared not in ROLE_NAMES[role]:
                raise MaskbenchError(f"{folder}: its {attr} is {declared!r}, a name maskbench does not know for "
                                     f"that role ({', '.join(ROLE_NAMES[role])})")
    return path

