"""Domain errors. The web layer maps each to one HTTP status and a JSON `{"error", "message"}`.

`code` is the stable machine-readable part. `message` is the English text; `key` (with `params`)
names its translation, `errors.<key>` in the locales, which the web layer shows in the reader's
language (xiaoer.web.i18n.error_text).
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, key: str | None = None, **params: object
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.key = key
        self.params = params


class NotFound(DomainError):
    """Raised for "missing" and "not yours" alike, so ids cannot be probed."""

    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"
