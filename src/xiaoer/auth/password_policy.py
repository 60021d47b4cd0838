"""What a staff password must be: long enough, not one of the most common passwords, and not
the username. Each refusal has a stable error code (the pages translate it)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
# Digits and punctuation people append to a common word to pass a length rule ("password2026!").
_DECORATION = "0123456789!@#$%^&*.?-_+= "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    lowered = password.strip().lower()
    common = common_passwords()
    if lowered in common:
        return True
    core = lowered.rstrip(_DECORATION).lstrip(_DECORATION)
    return len(core) >= 4 and core in common


def password_problem(password: str, *, username: str = "") -> str | None:
    """The error code of the first rule `password` breaks, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "password_too_short"
    if len(password) > MAX_PASSWORD_LENGTH:
        return "password_too_long"
    if is_common(password):
        return "password_common"
    name = username.strip().lower()
    if len(name) >= 3 and name in password.lower():
        return "password_contains_username"
    return None


MESSAGES = {
    "password_too_short": f"password must have at least {MIN_PASSWORD_LENGTH} characters",
    "password_too_long": f"password must have at most {MAX_PASSWORD_LENGTH} characters",
    "password_common": "this password is one of the most common passwords; choose another",
    "password_contains_username": "the password must not contain the username",
}
