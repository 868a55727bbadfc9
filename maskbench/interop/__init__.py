"""Crossing into and out of the Hugging Face ecosystem.

families.py   which transformers class matches which maskbench layout, parameter by parameter
hf_folder.py  a transformers model folder as a maskbench starting point (init=DIR anywhere)
hf_build.py   building and checking a transformers model from our weights (used by maskbench/export/)
tokenizer.py  special-token maps and post-processors both ways

transformers is an optional extra (`pip install 'maskbench[hf]'`); nothing here is imported by the
core unless a transformers folder or `export` is asked for.
"""



def require_transformers():
    """Import transformers, or fail in one line with the install hint."""
    from maskbench.optional import require

    transformers = require("transformers", "this", "hf")
    transformers.logging.set_verbosity_error()  # its load reports and bars are not ours to show
    transformers.logging.disable_progress_bar()
    return transformers


def hf_load(load, folder, problem: str):
    """`load(str(folder))` (a transformers from_pretrained), or one line: the problem, transformers' own first
    line in brackets, then what to do (`problem` may hold '{why}' for where that goes; else it ends the line)."""
    from maskbench.errors import MaskbenchError, safe_reason

    try:
        return load(str(folder))
    except Exception as exc:  # transformers raises many kinds here; each becomes the same one line
        why = safe_reason(exc, limit=120)
        raise MaskbenchError(problem.replace("{why}", why) if "{why}" in problem else f"{problem} ({why})") from None
