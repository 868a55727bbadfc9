"""`maskbench export RUN_OR_CHECKPOINT -o OUT_DIR`: a transformers model folder.

The folder holds config.json, model.safetensors (transformers' key names, written by its own
`save_pretrained`), generation_config.json for the encoder-decoder, and a tokenizer with its
post-processor and special-token map, so `AutoModelForMaskedLM` / `AutoModelForSeq2SeqLM`,
`AutoTokenizer` and `pipeline("fill-mask")` load it with no extra arguments.

maskbench's encoder becomes `MegatronBertForPreTraining` and its encoder-decoder
`BlenderbotForConditionalGeneration` (the transformers classes with exactly its layout); imported
BERT / RoBERTa / BART models go back to their own classes. Before anything is written the exported
model is run on a sample and its logits are compared with maskbench's.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import torch

from maskbench.errors import MaskbenchError
from maskbench.interop.families import Family, family_for_shape, hf_config
from maskbench.interop.hf_build import Built, load_exactly, sample_text_ids, their_state
from maskbench.arch import arch_of

TOLERANCE = 1e-4


def export_model(path, out: Path, console=None, step: int | None = None) -> Path:
    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.interop import require_transformers
    from maskbench.runs.source import resolve_source
    from maskbench.runs.checkpoint import step_folder
    from maskbench.runs.layout import TASK_RECORD

    transformers = require_transformers()
    say = console.print if console else (lambda *a, **k: None)
    if step is not None:
        path = step_folder(Path(path).expanduser(), step)
    src = resolve_source(path, what="export")
    out = Path(out).expanduser().resolve()
    _check_target(out)
    vocab = Vocab.from_tokenizer(load_tokenizer(src.tokenizer_path))
    built, why_not = None, None
    heads = True
    if src.origin == "maskbench" and (src.files / TASK_RECORD).exists():  # a fine-tuned task model
        from maskbench.export.task import build_task_export

        built, why_not = build_task_export(src.files, transformers)
    else:
        from maskbench.config.schema.objectives import load_attribute

        corruption = src.own_model_corruption()
        if corruption is not None and corruption.exporter:  # e.g. ELECTRA: its discriminator and generator
            export = load_attribute(corruption.exporter, f"export of corruption={corruption.name}")
            built, why_not = export(src, corruption, vocab, transformers)
            heads = corruption.trains_lm_head
    if built is None:
        built = _build_pretrained(src, vocab, transformers, heads)
    diff = max([built.difference(built.hf)] + [d(m) for _, m, _, d in built.subfolders])
    if diff > TOLERANCE:
        raise MaskbenchError(f"internal: the exported model's outputs differ from maskbench's by {diff:.2e}; "
                             f"nothing was written; please report it")
    if src.origin == "transformers":  # and from the folder it came from, as transformers itself runs it
        source_diff = source_difference(Path(src.source), built.hf, vocab, src.arch, transformers)
        if source_diff > TOLERANCE:
            raise MaskbenchError(f"the exported model's outputs differ from {src.source}'s own by {source_diff:.2e}: "
                                 f"maskbench does not hold this model exactly; nothing was written")
    _check_target(out)
    # A private folder of this process beside the target (same file system, so the final rename is atomic):
    # a user's folder is never reused or deleted, and two exports to one target never share files.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".export-tmp", dir=out.parent))
    try:
        _write_folder(built.hf, built.fam, built.shape, vocab, src, tmp)
        checks = [(tmp, built.class_name, built.difference)]
        for name, model, class_name, difference in built.subfolders:
            _write_folder(model, built.fam, built.shape, vocab, src, tmp / name)
            checks.append((tmp / name, class_name, difference))
        if any(difference(getattr(transformers, cls).from_pretrained(str(where)).eval()) > TOLERANCE
               for where, cls, difference in checks):
            raise MaskbenchError(f"internal: the written folder does not reload to the same outputs; nothing was "
                                 f"kept at {out}; please report it")
        _move_into_place(tmp, out)
    except OSError as e:
        raise MaskbenchError(f"export to {out} failed ({e.strerror or e}); nothing was kept there: "
                             f"choose a folder you can write to, or free space") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # ours alone; gone already after a successful move
    also = "".join(f" + {cls} in {name}/" for name, _, cls, _ in built.subfolders)
    say(f"exported {src.source} as {built.class_name}{also} ({built.fam.name} layout; largest output difference "
        f"{diff:.1e}) -> {out}", markup=False, highlight=False)
    for note in ([why_not] if why_not else []) + built.notes:
        say(f"note: {note}", markup=False, highlight=False)
    return out


def _build_pretrained(src, vocab, transformers, heads: bool = True) -> Built:
    """The pretrained model (or a fine-tuned one's backbone) as its family's pretraining class (`heads=False`:
    its base model alone)."""
    from maskbench.models import build_model

    model = build_model(src.model_cfg, src.arch, vocab.size)
    src.load_into(model)
    model.eval()
    s = model.shape
    fam = family_for_shape(src.arch, s)
    with_heads = heads and (arch_of(fam.arch).has_decoder or s.lm_transform(src.arch))
    random_heads = getattr(model, "untrained_heads", ())  # set by a transformers source (interop/hf_folder.py)
    if with_heads and "lm_head" in random_heads:
        raise MaskbenchError(f"{src.source} has no trained MLM head (the folder lacks its weights): export would write "
                             f"a random head as if trained; pretrain from it first (maskbench pretrain init=...)")
    if arch_of(fam.arch).has_decoder and s.lm_transform(src.arch):
        raise MaskbenchError("this encoder-decoder has an MLM transform head (model.mlm_transform=true), which "
                             "no transformers seq2seq class has: export needs the default bare projection")
    config = hf_config(fam, s, vocab, vocab.size)
    class_name = fam.hf_class if with_heads else fam.hf_class.replace("ForPreTraining", "Model").replace("ForMaskedLM", "Model")
    config.architectures = [class_name]
    hf = getattr(transformers, class_name)(config)
    load_exactly(hf, their_state(model, fam, with_heads), fam)
    notes = []
    if with_heads and {"nsp_head", "pooler"} & set(random_heads):
        notes.append(f"{src.source} had no next-sentence head; the exported one is randomly initialised (untrained)")
    if fam.name == "esm" and model.encoder.seg is not None:
        notes.append("ESM has no segment embeddings: segment 0 is folded into the word embeddings (exact for inputs "
                     "without segment ids); a second segment (sentence pairs) has no counterpart")
    if heads and not with_heads:
        notes.append("this encoder was trained with model.mlm_transform=false, a head transformers has no class for; "
                     "the folder holds the encoder (AutoModel), not a fill-mask model")
    return Built(hf, class_name, fam, s, lambda m: max_logit_difference(model, m, vocab, src.arch, with_heads), notes)


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise MaskbenchError(f"{out} is a file: give -o a new folder")
    if out.exists() and any(out.iterdir()):
        raise MaskbenchError(f"{out} exists and is not empty: give -o a new folder")
    if out.exists() and os.path.ismount(out):
        raise MaskbenchError(f"{out} is a mount point, which cannot be replaced: give -o a new folder inside it, "
                             f"e.g. -o {out / 'model'}")


def _write_folder(hf, fam: Family, s, vocab, src, tmp: Path) -> None:
    from maskbench.interop.tokenizer import export_tokenizer

    if arch_of(fam.arch).has_decoder:
        g = hf.generation_config
        g.decoder_start_token_id, g.bos_token_id, g.eos_token_id, g.pad_token_id = vocab.bos, vocab.bos, vocab.eos, vocab.pad
        g.forced_bos_token_id = g.forced_eos_token_id = None
        g.num_beams, g.do_sample, g.max_length = 1, False, s.max_positions
        g.no_repeat_ngram_size = g.encoder_no_repeat_ngram_size = 0
        # maskbench's fill never proposes these; generate() with the exported config does the same
        g.suppress_tokens = sorted({vocab.pad, vocab.mask, vocab.cls, vocab.bos})
    hf.save_pretrained(str(tmp))
    export_tokenizer(src.tokenizer_path, src.arch, s.max_positions, tmp)


def _move_into_place(tmp: Path, out: Path) -> None:
    """rename(2) replaces only a missing or empty folder, atomically: an export that finished first wins and
    a later one to the same target is refused, never merged into it."""
    try:
        os.rename(tmp, out)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise MaskbenchError(f"{out} was filled by another export while this one ran; this export was not "
                                 f"kept: give -o a new folder") from None
        raise


@torch.no_grad()
def source_difference(folder: Path, hf, vocab, arch: str, transformers) -> float:
    """Largest |exported - source| output on a fixed sample, the source run by transformers from its folder:
    MLM / LM logits where the source has its head, else the base model's final states."""
    g = torch.Generator().manual_seed(1)
    ids = sample_text_ids(vocab, 12, g)
    start, end = arch_of(arch).frame(vocab)
    x = torch.cat([torch.full((2, 1), start), ids, torch.full((2, 1), end)], 1)
    head = transformers.AutoModelForSeq2SeqLM if arch_of(arch).has_decoder else transformers.AutoModelForMaskedLM
    try:
        source, with_head = head.from_pretrained(str(folder)).eval(), True
    except (ValueError, OSError, KeyError):
        source, with_head = transformers.AutoModel.from_pretrained(str(folder)).eval(), False
    theirs_args = {"input_ids": x}
    if arch_of(arch).has_decoder:
        theirs_args["decoder_input_ids"] = torch.cat([torch.full((2, 1), vocab.bos), ids], 1)
    got = hf(**theirs_args, output_hidden_states=True)
    ref = source(**theirs_args, output_hidden_states=True)
    if with_head and hasattr(ref, "logits") and ("prediction_logits" in got or "logits" in got):
        ours = got.prediction_logits if "prediction_logits" in got else got.logits
        return float((ours - ref.logits).abs().max())
    last = got.hidden_states[-1] if "hidden_states" in got and got.hidden_states is not None else got.last_hidden_state
    theirs = ref.hidden_states[-1] if getattr(ref, "hidden_states", None) is not None else ref.last_hidden_state
    return float((last - theirs).abs().max())


@torch.no_grad()
def max_logit_difference(model, hf, vocab, arch: str, with_heads: bool) -> float:
    """Largest |maskbench - transformers| over the outputs of a fixed sample (logits where heads exist,
    else final hidden states)."""
    from maskbench.batch import Batch

    g = torch.Generator().manual_seed(0)
    ids = sample_text_ids(vocab, 12, g)
    if arch_of(arch).encoder_only:
        x = torch.cat([torch.full((2, 1), vocab.cls), ids, torch.full((2, 1), vocab.sep)], 1)
        h = model(Batch(input_ids=x, labels=x))
        if with_heads:
            ours, got = model.lm_head(h), hf(input_ids=x)
            theirs = got.prediction_logits if "prediction_logits" in got else got.logits
        else:
            ours, theirs = h, hf(input_ids=x).last_hidden_state
        return float((ours - theirs).abs().max())
    x = torch.cat([torch.full((2, 1), vocab.bos), ids, torch.full((2, 1), vocab.eos)], 1)
    dec = torch.cat([torch.full((2, 1), vocab.bos), ids], 1)
    ours = model.lm_head(model(Batch(input_ids=x, labels=x, decoder_input_ids=dec)))
    theirs = hf(input_ids=x, decoder_input_ids=dec).logits
    return float((ours - theirs).abs().max())
