"""Command line: `xiaoer serve|demo|seed|migrate|createuser|bot ask|nlp …`."""

from __future__ import annotations

import typer

from xiaoer.nlp.cli import app as nlp_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Xiaoer (店小二) customer service")
app.add_typer(nlp_app, name="nlp", help="Train and evaluate the NLP models")

from xiaoer.bot.cli import app as bot_app  # noqa: E402

app.add_typer(bot_app, name="bot", help="Ask the bot and inspect its decisions")
