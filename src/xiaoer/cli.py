"""Command line: `xiaoer serve|worker|jobs|demo|seed|migrate|createuser|backup|restore`, plus
`bot …`, `nlp …` and `scripts …`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy import select

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


def _settings(**overrides: Any) -> Settings:
    """The configured settings, or a clear message and exit 2 when they are refused (for
    instance a weak secret key in production)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(
                f"configuration error: {error['msg'].removeprefix('Value error, ')}", err=True
            )
        raise typer.Exit(2) from None
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _refuse_demo_in_production(settings: Settings) -> None:
    """The demo staff's passwords are printed and published: never on a production install."""
    if settings.is_production:
        typer.echo(
            "refused: the demo shop's staff have published passwords and cannot be seeded with "
            "XIAOER_ENV=production; create real accounts with `xiaoer createuser`",
            err=True,
        )
        raise typer.Exit(2)


def _prepare(settings: Settings) -> None:
    from xiaoer import migrate as migrations  # Alembic: not needed for `--help`

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
    from xiaoer.logs import configure_logging

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
    settings = _settings()
    _prepare(settings)
    typer.echo(f"database at {settings.effective_database_url.split('@')[-1]} is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Migrate, then serve the API, WebSockets and web UI."""
    settings = _settings(host=host, port=port)
    _prepare(settings)
    _serve(settings)


@app.command()
def seed() -> None:
    """Seed the demo shop into the configured database and exit."""

    from xiaoer.demo.seed import seed_demo_shop
    from xiaoer.shops.models import Shop

    settings = _settings()
    _refuse_demo_in_production(settings)
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

    settings = _settings(host=host, port=port)
    _refuse_demo_in_production(settings)
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
    settings = _settings()
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


jobs_app = typer.Typer(no_args_is_help=True, help="Durable jobs: list them, run one now")
app.add_typer(jobs_app, name="jobs")


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="jobs run at once")] = None,
) -> None:
    """Run the jobs worker and scheduler alone (for when `serve` runs with
    XIAOER_JOBS_IN_PROCESS=false)."""
    from xiaoer.db import make_engine, make_sessionmaker
    from xiaoer.jobs import Worker
    from xiaoer.logs import configure_logging

    settings = get_settings()
    configure_logging(json_logs=settings.log_json)
    _prepare(settings)

    async def run() -> None:
        engine = make_engine(settings.effective_database_url)
        try:
            await Worker(
                make_sessionmaker(engine),
                poll_interval=settings.jobs_poll_seconds,
                concurrency=concurrency or settings.jobs_concurrency,
            ).run_forever()
        finally:
            await engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@jobs_app.command("list")
def jobs_list() -> None:
    """Registered jobs with their due, later and dead counts, then the dead jobs."""
    from xiaoer import jobs

    settings = get_settings()
    _prepare(settings)

    async def work(session: Any) -> Any:
        return await jobs.job_counts(session), await jobs.dead_jobs(session, limit=50)

    counts, dead = asyncio.run(_in_transaction(settings, work))
    typer.echo(f"{'job':<36} {'every':>10} {'due':>6} {'later':>6} {'dead':>6}")
    for c in counts:
        every = f"{int(c.every.total_seconds())}s" if c.every else "-"
        typer.echo(f"{c.name:<36} {every:>10} {c.due:>6} {c.later:>6} {c.dead:>6}")
    if dead:
        typer.echo("\ndead jobs:")
        for row in dead:
            typer.echo(f"  #{row.id} {row.name} attempts={row.attempts} {row.last_error[:120]}")


@jobs_app.command("run")
def jobs_run(
    name: Annotated[str, typer.Argument(help="a registered job name, or 'due' for all due")],
) -> None:
    """Run a job now in this process (a periodic one, or one without arguments), or every due
    job with `due`."""
    from xiaoer import jobs
    from xiaoer.db import make_engine, make_sessionmaker

    settings = get_settings()
    _prepare(settings)
    if name != "due" and name not in jobs.registered():
        typer.echo(f"no job named {name!r}; see `xiaoer jobs list`", err=True)
        raise typer.Exit(2)

    async def run() -> str:
        engine = make_engine(settings.effective_database_url)
        sessions = make_sessionmaker(engine)
        try:
            if name == "due":
                return f"{await jobs.run_due_jobs(sessions)} jobs ran"
            job_id = await jobs.run_job_now(sessions, name)
            async with sessions() as session:
                row = await session.get(jobs.Job, job_id)
                assert row is not None
                return f"job #{job_id} {name}: {row.status} {row.last_error[:200]}".strip()
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


@app.command()
def backup() -> None:
    """Back up the database into the backup directory (XIAOER_BACKUP__DIR, default
    <data dir>/backups) and keep the newest XIAOER_BACKUP__KEEP archives. Safe while serving."""
    from xiaoer.ops.backup import run_backup

    result = run_backup(_settings())
    if not result.ok:
        typer.echo(f"backup failed: {result.error}", err=True)
        raise typer.Exit(1)
    removed = f", removed {len(result.removed)} old" if result.removed else ""
    typer.echo(f"{result.file} ({result.bytes} bytes, {result.seconds:.1f} s{removed})")


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="a .sqlite3.gz or .pgdump file from `backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="replace a database that already has data")
    ] = False,
) -> None:
    """Restore a backup into the configured database (stop the servers first), then migrate it
    to this version's schema."""
    from xiaoer import migrate as migrations
    from xiaoer.ops.backup import BackupError, restore_backup

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        restore_backup(settings, archive, force=force)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    migrations.upgrade(settings.effective_database_url)
    typer.echo(f"restored {archive.name}")
