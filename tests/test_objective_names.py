"""An objective is one thing (docs/objectives_api.md): no objective's name and no `family ==` / `hasattr(model, ...)`
branch outside its own modules, conf/ and docs, the Arch rule of tests/test_layers.py now for objectives. Its own
modules are the ones named after it (corruption/electra.py, models/electra.py, export/electra.py,
inspect/electra_view.py: ELECTRA has parts in several layers), plus its schema class in config/schema/corruption.py.

KNOWN would list branches still outside, file by file, with how many lines; it is empty and may only shrink."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "maskbench"
PRESETS = sorted(p.stem for p in (PACKAGE / "conf" / "corruption").glob("*.yaml"))
FAMILY_NAMES = ("electra", "ul2", "gpt_bert")  # names that mean one objective wherever they appear
# family names shared with other meanings (transformers' "bart", a "t5" tokenizer) are caught as quoted literals
QUOTED = ("bert", "span", "mass", "t5", "bart")
BRANCH = re.compile(r"family\s*(==|!=|in\b)|hasattr\(model")
NAME = re.compile(r"\b(" + "|".join(map(re.escape, PRESETS + list(FAMILY_NAMES))) + r")\b|"
                  + r"[\"'](" + "|".join(QUOTED) + r")[\"']")

OWN = {"corruption", "conf"}  # corruption/<objective>.py are the objectives' modules; conf/ their presets
OWN_FILES = {"config/schema/corruption.py"}  # the schema classes: each objective's config lives here
# Not objectives' branches: transformers' model families (interop/), the report's reference table of BART's
# paper, help texts and docstrings that give an example command.
ALLOWED = {"interop/families.py", "interop/hf_folder.py", "interop/hf_build.py", "report/tables.py",
           "report/ranking_plot.py", "cli.py", "collators.py", "config/typed.py", "export/__init__.py"}
# Branches still outside their objective, to move behind its hooks; may only shrink. Empty: the zero-shot scorer
# asks each objective's zero_shot_inputs and fill_model instead of branching on families.
KNOWN: dict[str, int] = {}


def _is_own(rel: str) -> bool:
    stem = Path(rel).stem
    return rel.split("/")[0] in OWN or rel in OWN_FILES or any(stem.startswith(n) for n in FAMILY_NAMES)


def _hits() -> dict[str, int]:
    out: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if _is_own(rel) or rel in ALLOWED:
            continue
        n = sum(1 for line in path.read_text().splitlines() if BRANCH.search(line) or NAME.search(line))
        if n:
            out[rel] = n
    return out


def test_no_objective_is_named_outside_its_modules():
    hits = _hits()
    new = {f: n for f, n in hits.items() if f not in KNOWN}
    assert not new, f"an objective named or branched on outside its modules (move it behind its hooks): {new}"
    grown = {f: (n, KNOWN[f]) for f, n in hits.items() if n > KNOWN[f]}
    assert not grown, f"more objective branches than before in (now, known): {grown}"


def test_the_known_list_is_current():
    hits = _hits()
    stale = {f: (hits.get(f, 0), n) for f, n in KNOWN.items() if hits.get(f, 0) < n}
    assert not stale, f"fewer branches than KNOWN says (now, listed): lower or delete the entries {stale}"
