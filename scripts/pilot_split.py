"""Write a pilot split of the main job's *training* reviews, so that its recipe is chosen without the 2,000 evaluation
reviews (which only the final, chosen recipe is scored on).

    python scripts/pilot_split.py OUT_DIR [--eval 2000]

OUT_DIR/train.tsv    the training reviews minus the last --eval of them (labelled, `sentence<TAB>label`)
OUT_DIR/eval.tsv     those last --eval training reviews: the pilots' evaluation set
OUT_DIR/text.txt     the text of train.tsv alone (labels dropped; no pilot-evaluation review in it), laid out
                     as builtin:online_reviews_text is (documents of 10 reviews)

A pilot then runs the main job with these three in place of the builtin sets, and the main job's pinned tokenizer:

    maskbench compare experiment=demo_zh task.train_file=OUT/train.tsv task.eval_file=OUT/eval.tsv \\
        "compare.pretrain=[experiment=reviews_pretrain,data.paths=[OUT/text.txt],data.tokenizer_file=TOKENIZER]"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maskbench.data.builtin import DOC_PARAGRAPHS, REVIEWS_EVAL, _review_rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--eval", type=int, default=2000, help="training reviews held out as the pilots' evaluation set")
    args = p.parse_args()
    train = _review_rows()[:-REVIEWS_EVAL]          # the main job's training reviews, in its order
    fit, held = train[:-args.eval], train[-args.eval:]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.tsv", fit), ("eval.tsv", held)):
        (args.out / name).write_text("sentence\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows), encoding="utf-8")
    texts = [t for t, _ in fit]
    docs = ["\n".join(texts[i:i + DOC_PARAGRAPHS]) for i in range(0, len(texts), DOC_PARAGRAPHS)]
    (args.out / "text.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    print(f"{len(fit)} pilot training reviews, {len(held)} pilot evaluation reviews -> {args.out}")


if __name__ == "__main__":
    main()
