"""An ASGI guard in front of every HTTP route: the body size limit and NUL bytes in text.

The limit is enforced while the body streams in: a declared `Content-Length` over the limit is
refused before a byte is read, and a chunked body is cut off as soon as it passes the limit. NUL
characters cannot be stored in PostgreSQL text and have no business in chat or script text, so
they are refused in the path, the query and JSON or form bodies (file uploads may carry them).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ErrorResponder = Callable[..., Response]

_NUL_IN_URL = re.compile(rb"%00|\x00", re.I)
# A JSON `\u0000` escape is one preceded by an even number of backslashes.
_NUL_IN_JSON = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|\x00", re.I)
_TAIL = 64


class PayloadTooLarge(HTTPException):
    key = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"the request body is larger than {limit} bytes")
        self.params = {"limit": limit}


class NulInText(HTTPException):
    key = "nul_in_text"

    def __init__(self) -> None:
        super().__init__(422, detail="text must not contain NUL characters")
        self.params: dict[str, object] = {}


def _nul_pattern(content_type: str) -> re.Pattern[bytes] | None:
    if "json" in content_type:
        return _NUL_IN_JSON
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _NUL_IN_URL
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, respond: ErrorResponder) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = self._check_head(scope)
        if error is not None:
            await self._respond(scope, send, error)
            return
        await _Guarded(self, scope, receive, send).run()

    async def _respond(self, scope: Scope, send: Send, error: HTTPException) -> None:
        response = self.respond(
            Request(scope),
            error.status_code,
            _code(error),
            str(error.detail),
            key=getattr(error, "key", None),
            params=getattr(error, "params", None),
        )

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)

    def _check_head(self, scope: Scope) -> HTTPException | None:
        if _NUL_IN_URL.search(scope.get("raw_path") or b"") or _NUL_IN_URL.search(
            scope.get("query_string") or b""
        ):
            return NulInText()
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return PayloadTooLarge(self.max_body_bytes)
        return None


class _Guarded:
    """One request: counts and scans the body as the app pulls it. On a violation it answers
    itself, tells the app the client is gone (so it stops reading) and drops the app's reply."""

    def __init__(self, guard: RequestGuard, scope: Scope, receive: Receive, send: Send) -> None:
        self.guard, self.scope, self._receive, self._send = guard, scope, receive, send
        headers = dict(scope.get("headers") or [])
        self.pattern = _nul_pattern(headers.get(b"content-type", b"").decode("latin-1").lower())
        self.size = 0
        self.tail = b""
        self.started = False
        self.answered = False

    async def run(self) -> None:
        try:
            await self.guard.app(self.scope, self.receive, self.send)
        except ClientDisconnect:
            if not self.answered:
                raise

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        self.size += len(chunk)
        error: HTTPException | None = None
        if self.size > self.guard.max_body_bytes:
            error = PayloadTooLarge(self.guard.max_body_bytes)
        elif self.pattern is not None and chunk:
            window = self.tail + chunk
            if self.pattern.search(window):
                error = NulInText()
            self.tail = window[-_TAIL:]
        if error is None:
            return message
        if not self.started:
            await self.guard._respond(self.scope, self._send, error)
        self.answered = True
        return {"type": "http.disconnect"}


def _code(error: HTTPException) -> str:
    return "payload_too_large" if error.status_code == 413 else "invalid_input"
