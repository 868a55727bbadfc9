"""Train, once, the tokenizers maskbench ships for its packaged corpora (maskbench/data/pinned.py says why).

    .venv/bin/python scripts/pin_tokenizers.py [NAME ...]      (no NAME: every corpus below)

Writes maskbench/assets/tokenizers/{NAME}.json and its entry in index.json (other entries are kept).
Re-running trains new vocabularies (the trainer is not deterministic across processes) and so changes every
later run on these corpora: pin only the corpus that is new or changed, and say so in the commit.
"""

from __future__ import annotations

import json
import sys

from maskbench.config import load_config
from maskbench.data.cache import _sentence_batches
from maskbench.data.corpus import resolve_paths
from maskbench.data.pinned import INDEX, PINNED_DIR, pin_key
from maskbench.data.tokenizer import save_tokenizer, train_tokenizer

# The packaged corpora and the data settings their presets use (the defaults of conf/data/default.yaml).
CORPORA = {"enwiki_gensim": [], "peoples_daily_text": ["builtin:peoples_daily_text"],
           "online_reviews_text": ["builtin:online_reviews_text"]}


def main(names: list[str]) -> None:
    PINNED_DIR.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names) - set(CORPORA))
    if unknown:
        raise SystemExit(f"unknown corpus {unknown[0]}: choose from {', '.join(CORPORA)}")
    names = names or list(CORPORA)
    entries = [e for e in (json.loads(INDEX.read_text()) if INDEX.is_file() else [])
               if not any(e["file"].startswith(f"{n}-") for n in names)]
    for name in names:
        paths = CORPORA[name]
        d = load_config([f"data.paths={json.dumps(paths)}"]).data
        (file,) = resolve_paths(d.paths, d.cache_dir)
        tok = train_tokenizer(_sentence_batches([file], d.doc_split, float("inf")), d.vocab_size, d.n_sentinels,
                              d.lowercase)
        out = f"{name}-{d.vocab_size}.json"
        save_tokenizer(tok, PINNED_DIR / out)
        entries.append({"file": out, "corpus": file.name, "bytes": file.stat().st_size, **pin_key(file, d)})
        print(f"{out}: {tok.get_vocab_size()} pieces from {file.name}")
    INDEX.write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
