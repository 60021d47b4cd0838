"""Command line: `xiaoer serve|demo|seed|migrate|createuser`, plus `bot …`, `nlp …` and
`scripts …`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer
from sqlalchemy import select

from xiaoer import migrate as migrations
from xiaoer.bot.cli import app as bot_app
from xiaoer.config import Settings, get_settings
from xiaoer.knowledge.cli import app as scripts_app
from xiaoer.nlp.cli import app as nlp_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Xiaoer (店小二) customer service"
)
app.add_typer(nlp_app, name="nlp", help="Train and evaluate the NLP models")
app.add_typer(bot_app, name="bot", help="Ask the bot and inspect its decisions")
app.add_typer(
    scripts_app, name="scripts", help="Lint, import and export the script library (话术库)"
)


def _prepare(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)


async def _in_transaction(settings: Settings, work: Any) -> Any:
    from xiaoer.db import make_engine, make_sessionmaker, transaction

    engine = make_engine(settings.effective_database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def _print_logins(demo: Any, settings: Settings) -> None:
    url = f"http://{settings.host}:{settings.port}"
    typer.echo("")
    typer.echo(f"  Xiaoer demo shop ({demo.slug}) is ready")
    typer.echo(f"  Agent workspace:  {url}/login")
    typer.echo(f"  Customer widget:  {url}/chat/{demo.slug}")
    typer.echo("  Demo logins (username / password / role):")
    for login in demo.logins:
        typer.echo(f"    {login.username:<14} {login.password:<20} {login.role}")
    history = getattr(demo, "history", None)
    if history is not None:
        typer.echo(f"  {history.line()}")
    typer.echo("")


def _serve(settings: Settings) -> None:
    import uvicorn

    from xiaoer.app import create_app
    from xiaoer.conversations.schemas import MAX_FRAME_BYTES
    from xiaoer.logging import configure_logging

    configure_logging(json_logs=settings.log_json)
    # Oversized frames are refused by the protocol layer before they are buffered whole.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        ws_max_size=MAX_FRAME_BYTES,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    _prepare(settings)
    typer.echo(f"database at {settings.effective_database_url.split('@')[-1]} is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Migrate, then serve the API, WebSockets and web UI."""
    settings = get_settings().model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    _prepare(settings)
    _serve(settings)


@app.command()
def seed() -> None:
    """Seed the demo shop into the configured database and exit."""
    from xiaoer.demo.seed import seed_demo_shop
    from xiaoer.shops.models import Shop

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        if await session.scalar(select(Shop.id).where(Shop.slug == "demo")):
            return None
        return await seed_demo_shop(session)

    demo = asyncio.run(_in_transaction(settings, work))
    if demo is None:
        typer.echo("the demo shop already exists; nothing seeded", err=True)
        raise typer.Exit(1)
    _print_logins(demo, settings)


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Seed the demo shop if the database is new, print its logins, then serve."""
    from xiaoer.demo.seed import DEMO_LOGINS_SLUG, demo_shop_summary, seed_if_empty

    settings = get_settings().model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    _prepare(settings)
    seeded = asyncio.run(_in_transaction(settings, seed_if_empty))
    summary = seeded or asyncio.run(
        _in_transaction(settings, lambda s: demo_shop_summary(s, slug=DEMO_LOGINS_SLUG))
    )
    if summary is not None:
        _print_logins(summary, settings)
    _serve(settings)


@app.command()
def createuser(
    username: str,
    role: Annotated[str, typer.Option(help="admin, supervisor or agent")] = "agent",
    shop: Annotated[str | None, typer.Option(help="shop slug (default: the first shop)")] = None,
    display_name: Annotated[str, typer.Option()] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a staff user."""
    from xiaoer.audit.service import Actor
    from xiaoer.auth.models import Role
    from xiaoer.auth.service import create_user
    from xiaoer.errors import DomainError
    from xiaoer.shops.models import Shop

    if role not in {r.value for r in Role}:
        typer.echo(f"unknown role {role!r}; use admin, supervisor or agent", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        query = select(Shop).order_by(Shop.id).limit(1)
        if shop:
            query = select(Shop).where(Shop.slug == shop)
        found = await session.scalar(query)
        if found is None:
            raise DomainError(f"no shop {shop!r}" if shop else "no shop yet: run `xiaoer seed`")
        user = await create_user(
            session,
            shop_id=found.id,
            username=username,
            password=password,
            role=Role(role),
            display_name=display_name,
            actor=Actor(type="system", name="cli", shop_id=found.id),
        )
        return {"id": user.id, "username": user.username, "role": role, "shop": found.slug}

    try:
        created = asyncio.run(_in_transaction(settings, work))
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(created, ensure_ascii=False) + "\n")
