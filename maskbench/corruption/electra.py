"""ELECTRA's data side (Clark et al. 2020): BERT's token selection with the released code's split (85% [MASK],
15% unchanged, no random token). The replacement itself needs the generator, so it happens in the model
(models/electra.py): the generator samples a token at each selected position and the discriminator is
trained on the result. Labels: the original token at selected positions, as for `bert_mlm`."""

from __future__ import annotations

from maskbench.corruption.bert import BertMLM


class ElectraMasking(BertMLM):
    """`electra`: the generator's input. Identical to BERT masking with the configured split."""
