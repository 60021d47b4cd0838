"""`xiaoer bot ask` (placeholder until the bot lands)."""

import typer

app = typer.Typer(no_args_is_help=True)
