"""Train, once, the tokenizers maskbench ships for its packaged corpora (maskbench/data/pinned.py says why).

    .venv/bin/python scripts/pin_tokenizers.py

Writes maskbench/assets/tokenizers/{NAME}.json and index.json. Re-running trains new vocabularies (the
trainer is not deterministic across processes) and so changes every later run on these corpora: do it
only when a corpus or the tokenizer recipe changes, and say so in the commit.
"""

from __future__ import annotations

import json

from maskbench.config import load_config
from maskbench.data.cache import _sentence_batches
from maskbench.data.corpus import resolve_paths
from maskbench.data.pinned import INDEX, PINNED_DIR, pin_key
from maskbench.data.tokenizer import save_tokenizer, train_tokenizer

# The packaged corpora and the data settings their presets use (the defaults of conf/data/default.yaml).
CORPORA = {"enwiki_gensim": [], "peoples_daily_text": ["builtin:peoples_daily_text"]}


def main() -> None:
    PINNED_DIR.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, paths in CORPORA.items():
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
    main()
