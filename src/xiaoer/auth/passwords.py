"""Password hashing with argon2id.

Production always uses the library's recommended cost. The test suite seeds hundreds of staff
users, so `Settings.password_hashing = "cheapest-for-tests"` (refused outside `env=test`) swaps in
argon2id with the smallest parameters: the same algorithm and the same verify path, at ~0.1 ms
instead of ~150 ms a hash. A hash records its own parameters, so verification needs no setting.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from xiaoer.config import Settings

_RECOMMENDED = PasswordHasher()  # argon2id with the library's current recommended parameters
_CHEAPEST = PasswordHasher.from_parameters(profiles.CHEAPEST)
_hasher = _RECOMMENDED


def configure_password_hashing(settings: Settings) -> None:
    """Pick the process's hasher from the settings (the validator keeps the cheap one in tests)."""
    global _hasher
    cheap = settings.password_hashing == "cheapest-for-tests"  # noqa: S105 - a mode name
    _hasher = _CHEAPEST if cheap else _RECOMMENDED


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummies: dict[int, str] = {}


def dummy_hash() -> str:
    """A hash of a random password made by the current hasher: logins of unknown users are
    verified against it so that they take as long as those of real users."""
    key = id(_hasher)
    if key not in _dummies:
        _dummies[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummies[key]
