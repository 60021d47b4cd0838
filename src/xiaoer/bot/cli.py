"""`xiaoer bot ask "<text>"`: the bot's decision for a text as one JSON object on stdout.

Same decision as `POST /api/v1/bot/preview`. Logs go to stderr so stdout stays one JSON object;
errors (no shop, unknown customer) exit with code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


class CliError(Exception):
    pass


def _quiet_logs() -> None:
    import structlog

    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )


async def _ask(text: str, shop_slug: str | None, customer_phone: str | None) -> dict[str, Any]:
    # Imported here, like every command's heavy dependency, so `xiaoer --help` starts at once.
    from sqlalchemy import select

    from xiaoer.bot import service
    from xiaoer.bot.engine import BotRegistry
    from xiaoer.config import get_settings
    from xiaoer.customers.models import Customer
    from xiaoer.customers.service import normalize_phone
    from xiaoer.db import make_engine, make_sessionmaker
    from xiaoer.shops.models import Shop

    engine = make_engine(get_settings().effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session:
            query = select(Shop).order_by(Shop.id).limit(1)
            if shop_slug:
                query = select(Shop).where(Shop.slug == shop_slug)
            shop = await session.scalar(query)
            if shop is None:
                raise CliError(
                    f"no shop {shop_slug!r}" if shop_slug else "no shop yet: run `xiaoer seed`"
                )
            customer_id = None
            if customer_phone:
                customer_id = await session.scalar(
                    select(Customer.id).where(
                        Customer.shop_id == shop.id,
                        Customer.phone == normalize_phone(customer_phone),
                    )
                )
                if customer_id is None:
                    raise CliError(f"no customer with phone {customer_phone!r} in {shop.slug}")
            result = await service.preview(
                session,
                registry=BotRegistry(sessions),
                shop_id=shop.id,
                text=text,
                customer_id=customer_id,
            )
            return result.public()
    finally:
        await engine.dispose()


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="what the customer writes")],
    shop: Annotated[str | None, typer.Option(help="shop slug (default: the first shop)")] = None,
    customer_phone: Annotated[
        str | None, typer.Option(help="answer as this customer (fills their orders)")
    ] = None,
) -> None:
    """Print the bot's decision for TEXT: answer, script_id, intent, confidence, entities,
    emotion, handoff, handoff_reason."""
    from xiaoer import migrate
    from xiaoer.config import get_settings

    _quiet_logs()
    if not text.strip():
        typer.echo("error: text is empty", err=True)
        raise typer.Exit(2)
    if len(text) > 4000:
        typer.echo("error: text is longer than 4000 characters", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)
    try:
        decision = asyncio.run(_ask(text, shop, customer_phone))
    except CliError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(decision, ensure_ascii=False) + "\n")
