"""Placeholder until the bot lands (owned by the chat engineer)."""

from typing import Any


class BotRegistry:
    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions
