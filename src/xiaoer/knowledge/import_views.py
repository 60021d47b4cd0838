"""The admin upload page for the script library import (`/admin/scripts/import`).

Same rules as the CLI (xiaoer.knowledge.transfer): the file is capped in size while it is
received, then in rows and uncompressed size; every row is validated before anything changes; a
failed file changes nothing. "Preview" runs the whole import in a transaction of its own that is
always rolled back, so the summary shown is exactly what applying would do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from xiaoer import events
from xiaoer.errors import DomainError
from xiaoer.knowledge import transfer
from xiaoer.web.deps import Admin, user_actor
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = "knowledge/import.html"
CHUNK = 64 * 1024


class _DryRun(Exception):
    """Raised to roll back the preview's transaction."""


async def _save(upload: UploadFile, folder: Path, limits: transfer.ImportLimits) -> Path:
    """The upload on disk under a safe name, refused as soon as it passes the size cap."""
    suffix = Path(upload.filename or "").suffix.lower()
    transfer.file_format(Path(f"upload{suffix}"))
    path = folder / f"upload{suffix}"
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise transfer.ImportFailed(
                    [(0, f"the file is larger than {limits.max_file_bytes} bytes")]
                )
            out.write(chunk)
    return path


@router.get("/admin/scripts/import")
async def import_page(request: Request, user: Admin) -> Response:
    return render(request, PAGE, {"limits": transfer.DEFAULT_LIMITS})


@router.post("/admin/scripts/import")
async def import_upload(
    request: Request,
    user: Admin,
    file: Annotated[UploadFile, File()],
    mode: Annotated[str, Form(max_length=10)] = "preview",
) -> Response:
    limits = transfer.DEFAULT_LIMITS
    apply = mode == "apply"
    context: dict[str, Any] = {"limits": limits}
    actor = user_actor(request, user)
    try:
        with tempfile.TemporaryDirectory(prefix="xiaoer-import-") as folder:
            path = await _save(file, Path(folder), limits)
            rows = transfer.parse_file(path, limits)
        summary = await _run(request, user.shop_id, actor, rows, commit=apply)
    except transfer.ImportFailed as exc:
        context["row_errors"] = exc.errors[: transfer.MAX_REPORTED_ERRORS]
        context["more_errors"] = max(0, len(exc.errors) - transfer.MAX_REPORTED_ERRORS)
        return render(request, PAGE, context, 422)
    except DomainError as exc:
        # A row valid on its own that the library refuses (e.g. another shop's script id).
        context["row_errors"] = [(0, exc.message)]
        return render(request, PAGE, context, 422)
    context["applied" if apply else "preview"] = summary
    return render(request, PAGE, context)


async def _run(
    request: Request, shop_id: int, actor: Any, rows: list[transfer.ScriptRow], *, commit: bool
) -> dict[str, int]:
    """The import in a transaction of its own: committed (then its events published), or for
    the preview always rolled back. Any error rolls everything back."""
    async with request.app.state.sessions() as session:
        try:
            async with session.begin():
                summary = (
                    await transfer.import_rows(session, shop_id=shop_id, actor=actor, rows=rows)
                ).public()
                if not commit:
                    raise _DryRun
        except _DryRun:
            events.discard_pending(session)
            return summary
        except BaseException:
            events.discard_pending(session)
            raise
        await request.app.state.bus.publish_pending(events.take_pending(session))
    return summary
