"""Failed-login limits on the shared rate limiter (`xiaoer.ratelimit`: Redis across processes
when configured, this process's memory on the embedded single-process default).

Two counters per failure: one per account, whatever address the guesses come from (rotating
addresses or `X-Forwarded-For` does not help, and the address is `client_ip`, which believes
the header only from configured proxies), and one per address, whatever accounts it tries
(password spraying). The account counter is cleared by a successful login; the address counter
only by time, so a valid login does not reset a spray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xiaoer.ratelimit import RateLimiter

ACCOUNT_FAILURES = 10
ADDRESS_FAILURES = 50
MFA_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _account(username: str) -> str:
    return f"login:user:{username.strip().lower()[:100]}"


def _address(ip: str) -> str:
    return f"login:ip:{ip}"


@dataclass
class LoginThrottle:
    limiter: RateLimiter
    account_failures: int = ACCOUNT_FAILURES
    address_failures: int = ADDRESS_FAILURES
    window_s: int = WINDOW_SECONDS

    async def retry_after(self, username: str, ip: str) -> int:
        """Seconds until this account may be tried from this address; 0 when it may now."""
        wait = 0.0
        for key, limit in (
            (_account(username), self.account_failures),
            (_address(ip), self.address_failures),
        ):
            decision = await self.limiter.peek(key, limit=limit, window_s=self.window_s)
            if not decision.allowed:
                wait = max(wait, decision.retry_after)
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, username: str, ip: str) -> None:
        await self.limiter.hit(
            _account(username), limit=self.account_failures, window_s=self.window_s
        )
        await self.limiter.hit(_address(ip), limit=self.address_failures, window_s=self.window_s)

    async def succeeded(self, username: str, ip: str) -> None:
        await self.limiter.reset(_account(username))

    async def second_factor_wait(self, user_id: int) -> int:
        decision = await self.limiter.peek(
            f"mfa:user:{user_id}", limit=MFA_FAILURES, window_s=self.window_s
        )
        return 0 if decision.allowed else max(1, math.ceil(decision.retry_after))

    async def second_factor_failed(self, user_id: int) -> None:
        await self.limiter.hit(f"mfa:user:{user_id}", limit=MFA_FAILURES, window_s=self.window_s)

    async def second_factor_succeeded(self, user_id: int) -> None:
        await self.limiter.reset(f"mfa:user:{user_id}")
