"""Small random transformers models with their tokenizers, saved into local folders (no network):
BERT (WordPiece, special ids not at 0..4), RoBERTa and BART (byte-level BPE, <mask> last)."""

from __future__ import annotations

from pathlib import Path

import torch


def _words(corpus: Path, vocab_size: int):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train([str(corpus)], trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=["[UNK]"],
                                                        show_progress=False))
    return [w for w, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1]) if w != "[UNK]"]


def bert_folder(corpus: Path, out: Path, layers: int = 2, build=None) -> Path:
    """BertForMaskedLM + BertTokenizerFast; [PAD]=0, three [unusedN] words, then [UNK] [CLS] [SEP] [MASK].
    `build(vocab_size)`: another model with this tokenizer (e.g. an ELECTRA discriminator)."""
    import transformers

    torch.manual_seed(0)
    vocab = ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + _words(corpus, 400)
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 5), ("[SEP]", 6)])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]",
                                               sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
    tok.save_pretrained(str(out))
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0)
    model = transformers.BertForMaskedLM(cfg) if build is None else build(len(vocab))
    _perturb(model)
    model.save_pretrained(str(out))
    return out


def electra_folder(corpus: Path, out: Path) -> Path:
    """ElectraForPreTraining (a discriminator, embedding_size = hidden_size) with a BERT tokenizer."""
    import transformers

    return bert_folder(corpus, out, build=lambda v: transformers.ElectraForPreTraining(transformers.ElectraConfig(
        vocab_size=v, embedding_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)))


def _bpe(corpus: Path, specials: list[str], mask_last: bool):
    from tokenizers import AddedToken, ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train([str(corpus)], vocab_size=500, special_tokens=specials, show_progress=False)
    if mask_last:
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    return tok._tokenizer if hasattr(tok, "_tokenizer") else tok


def _fast(tok_obj):
    import transformers

    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok_obj, bos_token="<s>", eos_token="</s>",
                                                cls_token="<s>", sep_token="</s>", pad_token="<pad>",
                                                unk_token="<unk>", mask_token="<mask>")


def _bpe_model_folder(corpus: Path, out: Path, seed: int, build) -> Path:
    """A byte-level BPE tokenizer (<s> <pad> </s> <unk>, then <mask> last) and `build(vocab_size)`'s model,
    perturbed and saved together into `out`."""
    torch.manual_seed(seed)
    tok = _fast(_bpe(corpus, ["<s>", "<pad>", "</s>", "<unk>"], mask_last=True))
    tok.save_pretrained(str(out))
    model = build(len(tok))
    _perturb(model)
    model.save_pretrained(str(out))
    return out


def roberta_folder(corpus: Path, out: Path) -> Path:
    """RobertaForMaskedLM (positions from 2, one segment)."""
    import transformers

    return _bpe_model_folder(corpus, out, 1, lambda v: transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        vocab_size=v, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=130, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)))


def bart_folder(corpus: Path, out: Path) -> Path:
    """BartForConditionalGeneration (post-LN, layernorm_embedding, positions from 2)."""
    import transformers

    return _bpe_model_folder(corpus, out, 2, lambda v: transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=v, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=160, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2, forced_eos_token_id=None)))


def _perturb(model):
    """Random init leaves LayerNorms at 1/0 and biases at 0: perturb everything, so that a weight
    mapped to the wrong place shows up in the logits."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:  # a frozen table (RoFormer's sinusoids) is computed, not trained
                p.add_(0.05 * torch.randn(p.shape, generator=g))


def t5_folder(corpus: Path, out: Path, n_extra: int = 20) -> Path:
    """T5ForConditionalGeneration + a T5-style tokenizer: <pad>=0 </s>=1 <unk>=2, words, then <extra_id_N>
    numbered downwards from the last id (as T5's own: <extra_id_0> is the highest)."""
    import transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    torch.manual_seed(3)
    vocab = ["<pad>", "</s>", "<unk>"] + _words(corpus, 400)
    extra = [f"<extra_id_{i}>" for i in reversed(range(n_extra))]
    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab + extra)}, unk_token="<unk>"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.add_special_tokens(["<pad>", "</s>", "<unk>", *extra])
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                           special_tokens=[("</s>", 1)])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="</s>", pad_token="<pad>",
                                               unk_token="<unk>", additional_special_tokens=extra[::-1])
    tok.save_pretrained(str(out))
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=len(vocab) + n_extra, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2, dropout_rate=0.0,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    model.save_pretrained(str(out))
    return out


FILL_TEXT = "the city is in the [MASK] of the river ."


def assert_fill_mask_agrees(run: Path, folder: Path, text: str = FILL_TEXT) -> list[dict]:
    """transformers' fill-mask pipeline on an exported `folder` gives `maskbench fill`'s top 5 on `run`: the same
    tokens in the same order, probabilities within 1e-5. Returns maskbench's top 5."""
    import json
    import subprocess
    import sys

    import pytest
    import transformers

    theirs = transformers.pipeline("fill-mask", model=str(folder))(text, top_k=5)
    proc = subprocess.run([sys.executable, "-m", "maskbench", "fill", str(run), text, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ours = json.loads(proc.stdout)["blanks"][0]
    assert [r["token"] for r in theirs] == [p["id"] for p in ours]
    assert [r["score"] for r in theirs] == pytest.approx([p["prob"] for p in ours], abs=1e-5)
    return ours
