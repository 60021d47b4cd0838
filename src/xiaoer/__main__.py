"""`python -m xiaoer` runs the CLI."""

from xiaoer.cli import app

app()
