"""Admins see a user's live sessions (when, where from, which browser) and end any of them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from xiaoer.auth import service, sessions
from xiaoer.bounds import Id
from xiaoer.web.deps import DB, Admin, session_idle, user_actor
from xiaoer.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/users/{user_id}/sessions")
async def sessions_page(request: Request, user_id: Id, session: DB, user: Admin) -> Response:
    target = await service.access_user(session, user, user_id)
    rows = await sessions.live_sessions(
        session, user_id=target.id, idle=session_idle(request.app.state.settings)
    )
    current = getattr(request.state, "user_session", None)
    return render(
        request,
        "auth/sessions.html",
        {
            "target": target,
            "sessions": rows,
            "current_id": current.id if current is not None else None,
            "notice": request.query_params.get("notice", "") == "ended",
        },
    )


@router.post("/admin/users/{user_id}/sessions/{session_id}/end")
async def end_session(
    request: Request, user_id: Id, session_id: Id, session: DB, user: Admin
) -> Response:
    target = await service.access_user(session, user, user_id)
    row = await sessions.access_session(session, user, user_id=target.id, session_id=session_id)
    await sessions.end_session_by_admin(session, row=row, actor=user_actor(request, user))
    return RedirectResponse(f"/admin/users/{target.id}/sessions?notice=ended", status_code=303)
