"""`xiaoer nlp train|eval …` (placeholder until the NLP engine lands)."""

import typer

app = typer.Typer(no_args_is_help=True)
