"""Bot test helpers: one registry per test module (a shop's matcher trains once, ~1.5 s)."""

from __future__ import annotations

import pytest

from xiaoer.bot.engine import BotRegistry


@pytest.fixture(scope="module")
def registry():
    return BotRegistry(None)
