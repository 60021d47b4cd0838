"""The hasher setting: tests hash cheaply, production at full cost, and either hash verifies."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from argon2 import extract_parameters, profiles

from xiaoer.auth import passwords
from xiaoer.config import Settings


@pytest.fixture
def restore_test_hashing() -> Iterator[None]:
    yield
    passwords.configure_password_hashing(
        Settings(env="test", password_hashing="cheapest-for-tests")
    )


def test_production_settings_hash_at_the_recommended_cost(restore_test_hashing):
    del restore_test_hashing
    passwords.configure_password_hashing(
        Settings(env="production", secret_key=secrets.token_urlsafe(32))
    )
    params = extract_parameters(passwords.hash_password("s3cret-pass"))
    assert params.type.name == "ID"
    assert params.memory_cost == profiles.RFC_9106_LOW_MEMORY.memory_cost
    assert params.time_cost == profiles.RFC_9106_LOW_MEMORY.time_cost


def test_cheap_test_hashes_still_verify_only_the_right_password(restore_test_hashing):
    del restore_test_hashing
    passwords.configure_password_hashing(
        Settings(env="test", password_hashing="cheapest-for-tests")
    )
    cheap = passwords.hash_password("s3cret-pass")
    assert extract_parameters(cheap).memory_cost == profiles.CHEAPEST.memory_cost
    passwords.configure_password_hashing(Settings(env="test"))
    full = passwords.hash_password("s3cret-pass")
    # A hash carries its parameters, so either verifies whichever hasher the process uses.
    for stored in (cheap, full):
        assert passwords.verify_password(stored, "s3cret-pass")
        assert not passwords.verify_password(stored, "s3cret-pasS")
    assert not passwords.verify_password("not-a-hash", "s3cret-pass")
