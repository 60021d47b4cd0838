"""Security headers on every HTTP response: CSP without inline script, framing rules, nosniff,
referrer policy, and in production HSTS plus `Secure` on every cookie.

A pure ASGI middleware (not `@app.middleware`) so it also covers static files, error pages and
responses that bypass the routers. Pages that may be framed (the customer widget) set their own
`Content-Security-Policy` through `content_security_policy(frame_ancestors=...)`; the middleware
never overwrites a policy a route chose.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xiaoer.shops.widget import normalize_origin

# Swagger UI and ReDoc pages come from FastAPI with inline boot scripts and CDN assets; they get
# a policy allowing exactly those scripts (by hash), not 'unsafe-inline'.
DOCS_CDN = "https://cdn.jsdelivr.net"
HSTS = "max-age=31536000; includeSubDomains"
REFERRER_POLICY = "strict-origin-when-cross-origin"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def content_security_policy(
    *,
    frame_ancestors: Iterable[str] = ("'none'",),
    script_src: Iterable[str] = ("'self'",),
    extra_sources: Iterable[str] = (),
) -> str:
    """The policy of our pages. Styles allow 'unsafe-inline' because templates carry a few style
    attributes and chart libraries size elements inline; scripts never do."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    extra = " ".join(extra_sources)
    directives = [
        "default-src 'self'",
        f"script-src {' '.join(script_src)}",
        f"style-src 'self' 'unsafe-inline' {extra}".strip(),
        f"img-src 'self' data: blob: {extra}".strip(),
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ]
    return "; ".join(directives)


def widget_frame_ancestors(allowed_origins: Iterable[str]) -> list[str]:
    """The shop's allowed origins (validated again: the column may predate validation); no
    origins means no framing at all."""
    origins = [o for o in (normalize_origin(str(v)) for v in allowed_origins) if o]
    return origins or ["'none'"]


STAFF_CSP = content_security_policy()


def _docs_csp(body: bytes) -> str:
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(body)
    ]
    return content_security_policy(
        script_src=["'self'", DOCS_CDN, *hashes],
        extra_sources=[DOCS_CDN, "https://fastapi.tiangolo.com"],
    )


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, production: bool, docs_paths: Iterable[str | None] = ()
    ) -> None:
        self.app = app
        self.production = production
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._apply(message, STAFF_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffers the (small) docs page to hash its inline scripts into the policy."""
        start: MutableMapping[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                self._apply(start, _docs_csp(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, capture)

    def _apply(self, message: MutableMapping[str, Any], csp: str) -> None:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        wanted = [
            (b"content-security-policy", csp),
            (b"x-content-type-options", "nosniff"),
            (b"referrer-policy", REFERRER_POLICY),
        ]
        policy = next(
            (v.decode("latin-1") for n, v in headers if n.lower() == b"content-security-policy"),
            csp,
        )
        # Old browsers ignore frame-ancestors; DENY only where the policy forbids any framing.
        if "frame-ancestors 'none'" in policy:
            wanted.append((b"x-frame-options", "DENY"))
        if self.production:
            wanted.append((b"strict-transport-security", HSTS))
            headers = [
                (n, _secure_cookie(v)) if n.lower() == b"set-cookie" else (n, v) for n, v in headers
            ]
        for name, value in wanted:
            if name not in present:
                headers.append((name, value.encode("latin-1")))
        message["headers"] = headers


def _secure_cookie(value: bytes) -> bytes:
    attributes = [a.strip().lower() for a in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"
