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
