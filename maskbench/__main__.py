"""`python -m maskbench` (and `torchrun -m maskbench`) runs the CLI."""

from maskbench.cli import app

app()
