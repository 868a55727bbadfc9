"""Check an export on real text: `python scripts/check_export.py RUN [RUN ...]`.

For each maskbench run: export it, then on sentences of the embedded Wikipedia sample (real text)
print the largest |logit difference| between maskbench and the transformers model, whether
transformers' fill-mask pipeline gives `maskbench fill`'s top-5 (encoder) or `generate()` greedy
gives `maskbench fill`'s reconstruction (encoder-decoder), and whether `init=EXPORT` gives the same
validation loss at step 0 as the run's final one (the round trip). Needs the [hf] extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

PROBES = ["the capital of france is [MASK] .", "the river flows into the [MASK] sea .",
          "he was born in [MASK] and studied music .", "the [MASK] of the city is about two million ."]


def wiki_sentences(n: int = 16) -> list[str]:
    from maskbench.data.corpus import default_corpus_path, iter_documents

    out = []
    for doc in iter_documents([default_corpus_path()], "auto"):
        out += [s for s in doc if 40 < len(s) < 300]
        if len(out) >= n:
            return out[:n]
    return out


@torch.no_grad()
def check(run: Path, out_root: Path) -> dict:
    import transformers

    from maskbench.batch import Batch
    from maskbench.inspect.fill import fill_encoder, generate
    from maskbench.inspect.loading import encode_with_masks, load_checkpoint
    from maskbench.export.model import export_model

    folder = export_model(run, out_root / run.name)
    if (folder / "generator").is_dir():
        return check_electra(run, folder)
    m = load_checkpoint(run)
    arch = m.cfg.arch.name
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    texts = wiki_sentences()
    batch = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, real = batch["input_ids"], batch["attention_mask"].bool()
    result = {"run": str(run), "arch": arch, "sentences": len(texts), "tokens": int(real.sum())}
    if arch == "encoder":
        hf = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
        ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real,
                                                 token_type_ids=batch["token_type_ids"])))
        theirs = hf(**batch).logits
        pipe = transformers.pipeline("fill-mask", model=str(folder))
        same = []
        for text in PROBES:
            a = [i for _, i, _ in fill_encoder(m, text, 5)[0]]
            b = [r["token"] for r in pipe(text, top_k=5)]
            same.append(a == b)
        result["fill_mask_top5_equal"] = f"{sum(same)}/{len(same)}"
    else:
        hf = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
        dec = torch.cat([torch.full((len(ids), 1), m.vocab.bos), ids[:, :-1]], 1)
        ours = m.model.lm_head(m.model(Batch(input_ids=ids, labels=ids, pad_mask=~real, decoder_input_ids=dec)))
        theirs = hf(input_ids=ids, attention_mask=batch["attention_mask"], decoder_input_ids=dec).logits
        same = []
        for text in PROBES:
            src = encode_with_masks(m.tok, text, m.vocab)
            a = generate(m, src, beam=1)
            b = hf.generate(**tok(text, return_tensors="pt"), max_new_tokens=len(src) + 32)[0].tolist()[1:]
            same.append(a == (b[:-1] if b and b[-1] == m.vocab.eos else b))
        result["generate_equal_fill"] = f"{sum(same)}/{len(same)}"
    result["max_logit_diff"] = float((ours - theirs)[real].abs().max())
    result["round_trip"] = round_trip(run, folder, out_root)
    return result


@torch.no_grad()
def check_electra(run: Path, folder: Path) -> dict:
    """An ELECTRA run (post-LN layout): the discriminator's replaced-token logits and the generator's vocabulary
    logits, maskbench against transformers, at every real position of the Wikipedia sentences."""
    import transformers

    from maskbench.data.tokenizer import Vocab, load_tokenizer
    from maskbench.models.layers import key_padding_mask
    from maskbench.runs.source import resolve_source

    src = resolve_source(run)
    ours = src.pretraining_model(src.own_model_corruption(), Vocab.from_tokenizer(load_tokenizer(src.tokenizer_path)).size)
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    texts = wiki_sentences()
    batch = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, real, types = batch["input_ids"], batch["attention_mask"].bool(), batch["token_type_ids"]
    disc = transformers.AutoModelForPreTraining.from_pretrained(folder).eval()
    gen = transformers.AutoModelForMaskedLM.from_pretrained(folder / "generator").eval()
    rtd = ours.rtd_head(ours.encoder(ids, ~real, types)).squeeze(-1)
    g = ours.generator.lm_head(ours.generator(ours.encoder.embed(ids, types), key_padding_mask(~real)))
    return {"run": str(run), "classes": [type(disc).__name__, type(gen).__name__], "sentences": len(texts),
            "tokens": int(real.sum()), "discriminator_max_logit_diff": float((rtd - disc(**batch).logits)[real].abs().max()),
            "generator_max_logit_diff": float((g - gen(**batch).logits)[real].abs().max())}


def round_trip(run: Path, folder: Path, out_root: Path) -> dict:
    """Pretrain from the export for 1 step with the run's own config: step-0 validation loss vs the run's last."""
    from omegaconf import OmegaConf

    from maskbench.config import load_config
    from maskbench.runs.rundir import read_metrics
    from maskbench.train.pretrain import run_pretrain

    cfg = OmegaConf.load(run / "config.yaml")
    over = [f"corruption={cfg.corruption.name}", f"arch={cfg.arch.name}", f"seed={cfg.seed}",
            f"data.seq_len={cfg.data.seq_len}", f"data.val_blocks={cfg.data.val_blocks}",
            f"train.batch_size={cfg.train.batch_size}", f"init={folder}", f"run.dir={out_root / (run.name + '-rt')}",
            "train.max_steps=1", "runtime.progress=false"]
    if cfg.data.paths:
        over.append("data.paths=[" + ",".join(str(p) for p in cfg.data.paths) + "]")
    with torch.enable_grad():  # check() runs under no_grad; this one trains a step
        again = run_pretrain(load_config(over))
    before = [e for e in read_metrics(run) if e["split"] == "val"][-1]["loss"]
    after = [e for e in read_metrics(again) if e["split"] == "val"][0]["loss"]
    return {"final_val_loss": before, "init_step0_val_loss": after}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=None, help="where exports go (default: a temporary folder)")
    args = p.parse_args()
    out_root = args.out or Path(tempfile.mkdtemp(prefix="maskbench-export-"))
    for run in args.runs:
        print(json.dumps(check(run.resolve(), out_root)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
