"""`xiaoer scripts lint|import|export`: the script library from the command line.

stdout carries exactly one JSON object; progress bars and errors go to stderr. Bad options and
bad files exit with code 2 and a message on stderr; a failed import changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


class Category(StrEnum):
    consultation = "consultation"
    after_sale = "after_sale"
    complaint = "complaint"


class LintRole(StrEnum):
    agent = "agent"
    supervisor = "supervisor"


class CliError(Exception):
    pass


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@app.command()
def lint(
    text: Annotated[str, typer.Argument(help="the answer or reply to check")],
    category: Annotated[
        Category | None, typer.Option(help="the answer's category (enables its required parts)")
    ] = None,
    angry: Annotated[bool, typer.Option("--angry", help="the customer is angry")] = False,
    role: Annotated[LintRole, typer.Option(help="who sends it (compensation limits)")] = (
        LintRole.agent
    ),
) -> None:
    """Compliance lint: {"blocked": bool, "findings": [{rule, severity, start, end, message,
    suggestion}]}; spans are character offsets, (0, 0) for a missing required part."""
    from xiaoer.knowledge.compliance import lint as run_lint

    result = run_lint(
        text, category=category.value if category else None, angry=angry, role=role.value
    )
    _emit(result.public())


async def _with_shop(shop_slug: str | None, work: Any) -> Any:
    from sqlalchemy import select

    from xiaoer.config import get_settings
    from xiaoer.db import make_engine, make_sessionmaker, transaction
    from xiaoer.shops.models import Shop

    engine = make_engine(get_settings().effective_database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            query = select(Shop).order_by(Shop.id).limit(1)
            if shop_slug:
                query = select(Shop).where(Shop.slug == shop_slug)
            shop = await session.scalar(query)
            if shop is None:
                raise CliError(
                    f"no shop {shop_slug!r}" if shop_slug else "no shop yet: run `xiaoer seed`"
                )
            return await work(session, shop)
    finally:
        await engine.dispose()


def _progress(description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _run(shop: str | None, description: str, work: Any) -> Any:
    import logging

    import structlog
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from xiaoer.errors import DomainError

    # stdout is reserved for the one JSON summary.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    with _progress(description) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            return asyncio.run(_with_shop(shop, lambda s, found: work(s, found, advance)))
        except (DomainError, CliError) as exc:
            bar.stop()
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            raise _fail(message) from None
        except (OperationalError, ProgrammingError):
            bar.stop()
            raise _fail("the database is not set up: run `xiaoer migrate`") from None


@app.command("export")
def export_(
    file: Annotated[Path, typer.Argument(help="target .xlsx or .csv file", dir_okay=False)],
    shop: Annotated[str | None, typer.Option(help="shop slug (default: the first shop)")] = None,
) -> None:
    """Write the whole library (all but deleted scripts) to FILE; prints {"exported": n}."""
    from xiaoer.errors import DomainError
    from xiaoer.knowledge import transfer

    try:
        transfer.file_format(file)
    except DomainError as exc:
        raise _fail(exc.message) from None

    async def work(session: Any, found: Any, advance: Any) -> int:
        return await transfer.export_library(session, shop_id=found.id, path=file, progress=advance)

    try:
        exported = _run(shop, "exporting scripts", work)
    except OSError as exc:
        raise _fail(f"cannot write {file}: {exc.strerror}") from None
    _emit({"exported": exported})


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="an .xlsx or .csv file", dir_okay=False)],
    shop: Annotated[str | None, typer.Option(help="shop slug (default: the first shop)")] = None,
) -> None:
    """Create (empty script_id) or update scripts from FILE; all rows are validated first and a
    bad row fails the whole import. Prints {"created", "updated", "unchanged"}."""
    from xiaoer.audit.service import Actor
    from xiaoer.errors import DomainError
    from xiaoer.knowledge import transfer

    try:
        transfer.file_format(file)
    except DomainError as exc:
        raise _fail(exc.message) from None
    if not file.is_file():
        raise _fail(f"no such file: {file}")

    async def work(session: Any, found: Any, advance: Any) -> dict[str, int]:
        summary = await transfer.import_library(
            session,
            shop_id=found.id,
            actor=Actor(type="system", name="cli import", shop_id=found.id),
            path=file,
            progress=advance,
        )
        return summary.public()

    _emit(_run(shop, "importing scripts", work))
