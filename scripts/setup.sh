#!/usr/bin/env bash
# Fresh-machine setup: creates .venv and installs maskbench into it (`--dev` adds the test tools).
#
# torch: if the venv has no torch yet, install the pinned release explicitly first. On machines with a
# local CPU wheel (find-links) that wheel is used; elsewhere pip takes PyPI's default build (CUDA on
# Linux). A GPU user who wants another build pre-installs it or sets MASKBENCH_TORCH="torch==X+cuYYY".
# An existing torch is never replaced: pyproject only asks for torch>=2.3.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${PIP[@]}" "${MASKBENCH_TORCH:-torch==2.13.0}"
fi
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
"${PIP[@]}" -e ".${extras}"
