"""The two architectures as objects: what differs between an encoder (BERT-like) and an encoder-decoder
(BART-like) wherever text is framed, batched, scored or exported, asked of one `Arch` instead of comparing
`arch` strings across the code.

  encoder           [CLS] text [SEP] (pairs: [CLS] A [SEP] B [SEP], segment ids 0/1); no decoder
  encoder_decoder   [BOS] text [EOS] (pairs: [BOS] A [SEP] B [EOS], no segment ids); a decoder that reads the
                    target (pretraining) or the same sequence (fine-tuning, BART's recipe)

It sits on the ground floor (torch-free, no maskbench imports but errors) because data framing and task
batching, below the models, need it too; `ARCHS` is the one registry of names (the config schema's choices
and the model classes are keyed by it).
"""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.errors import MaskbenchError


@dataclass(frozen=True)
class Arch:
    name: str
    has_decoder: bool
    segments: bool        # token type ids for sentence pairs (BERT's segment embeddings)
    start_role: str       # the vocabulary role that opens a framed sequence
    end_role: str         # ... and the one that closes it

    def frame(self, vocab) -> tuple[int, int]:
        """(first id, last id) of a framed sequence in `vocab` (a data.tokenizer.Vocab)."""
        return getattr(vocab, self.start_role), getattr(vocab, self.end_role)

    @property
    def encoder_only(self) -> bool:
        return not self.has_decoder

    def __str__(self) -> str:
        return self.name


ENCODER = Arch("encoder", has_decoder=False, segments=True, start_role="cls", end_role="sep")
ENCODER_DECODER = Arch("encoder_decoder", has_decoder=True, segments=False, start_role="bos", end_role="eos")
ARCHS: dict[str, Arch] = {a.name: a for a in (ENCODER, ENCODER_DECODER)}


def arch_of(arch) -> Arch:
    """The Arch for a name (`cfg.arch.name`, a model's or family's `arch`) or an Arch."""
    if isinstance(arch, Arch):
        return arch
    name = getattr(arch, "name", arch)  # an `arch` config group
    if name not in ARCHS:
        raise MaskbenchError(f"arch={name} is unknown: choose one of {', '.join(ARCHS)}")
    return ARCHS[str(name)]
