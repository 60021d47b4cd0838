"""The guard on every agent reply and the script usage it records: the compliance check (the
shop's rules, the inserted script's kind, the customer's anger), the supervisor override with
its audit entry, and the `inserted` / `sent` usage events of scripts (through
`xiaoer.knowledge.usage`, which owns those tables).

Sending a reply (`conversations.service.send_message`) needs all of it, so it lives in this
domain; the assist panel (`xiaoer.assist`) calls it too. Runs in the caller's transaction and
never commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.audit import service as audit
from xiaoer.audit.service import Actor
from xiaoer.auth import service as auth_service
from xiaoer.auth.models import Role, User
from xiaoer.conversations.models import Conversation, Message, SenderType
from xiaoer.errors import DomainError, NotFound
from xiaoer.knowledge import rules as shop_rules
from xiaoer.knowledge import usage
from xiaoer.knowledge.categories import category_kind
from xiaoer.knowledge.compliance import LintResult, lint
from xiaoer.knowledge.library import answer_channel, served_script
from xiaoer.knowledge.models import Script, ScriptEvent, ScriptEventKind, ScriptStatus
from xiaoer.nlp import Emotion, detect_emotion

SUPERVISING_ROLES = (Role.admin, Role.supervisor)


class Throttle(Protocol):
    """The login throttle (`xiaoer.auth.throttle.LoginThrottle`, shared across processes): a
    wrong override password counts as a failed login of that username."""

    async def retry_after(self, username: str, ip: str) -> int: ...

    async def failed(self, username: str, ip: str) -> None: ...

    async def succeeded(self, username: str, ip: str) -> None: ...


# --- conversation context ----------------------------------------------------------------------


async def latest_customer_message(session: AsyncSession, *, conversation_id: int) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.sender_type == SenderType.customer,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


def is_angry(emotion: Emotion) -> bool:
    """For the lint, anger of any intensity counts (the bot hands over only at high intensity)."""
    return emotion.polarity == "negative" and emotion.label == "anger"


def lint_role(user: User) -> str:
    return "supervisor" if user.role in SUPERVISING_ROLES else "agent"


async def shop_script(session: AsyncSession, *, shop_id: int, script_id: int) -> Script:
    """A script id sent by the workspace: NotFound unless it is this shop's and in service."""
    script = await session.get(Script, script_id)
    if script is None or script.shop_id != shop_id or script.status == ScriptStatus.retired:
        raise NotFound("script not found")
    return script


# --- the compliance check of a reply ------------------------------------------------------------


@dataclass(frozen=True)
class ReplyCheck:
    result: LintResult
    category: str | None
    angry: bool
    role: str

    @property
    def blocked(self) -> bool:
        return self.result.blocked

    def public(self) -> dict[str, Any]:
        return {
            **self.result.public(),
            "category": self.category,
            "angry": self.angry,
            "role": self.role,
        }


class ReplyBlocked(DomainError):
    """The reply breaks a blocking rule; nothing was stored. `check` has the findings."""

    status_code = 422
    code = "lint_blocked"

    def __init__(self, check: ReplyCheck) -> None:
        super().__init__(
            "the reply breaks a compliance rule: a supervisor must approve it", key="reply_blocked"
        )
        self.check = check


class OverrideRefused(DomainError):
    status_code = 403
    code = "override_refused"


class OverrideThrottled(DomainError):
    status_code = 429
    code = "throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, key="throttled", seconds=retry_after)
        self.retry_after = retry_after


async def check_reply(
    session: AsyncSession,
    *,
    conversation: Conversation,
    user: User,
    text: str,
    script_id: int | None = None,
) -> ReplyCheck:
    """Lints `text` as `user`'s reply in `conversation`: the shop's rules, the inserted script's
    kind as category, angry when the customer's latest message is angry."""
    category = None
    if script_id is not None:
        script = await shop_script(session, shop_id=conversation.shop_id, script_id=script_id)
        category = category_kind(script.category)
    latest = await latest_customer_message(session, conversation_id=conversation.id)
    angry = latest is not None and is_angry(detect_emotion(latest.body))
    rules = await shop_rules.shop_rules(session, shop_id=conversation.shop_id)
    role = lint_role(user)
    result = lint(text, category=category, angry=angry, role=role, rules=rules)
    return ReplyCheck(result=result, category=category, angry=angry, role=role)


async def verify_approver(
    session: AsyncSession,
    *,
    shop_id: int,
    username: str,
    password: str,
    ip: str,
    throttle: Throttle,
    actor: Actor,
) -> User:
    """The supervisor whose credentials were typed into the override dialog: an active
    supervisor or admin of the same shop. Every refusal is audited and counts as a failed login
    of that username."""
    username = username.strip()
    wait = await throttle.retry_after(username, ip)
    if wait:
        raise OverrideThrottled(f"too many failed attempts; try again in {wait} s", wait)
    user = await session.scalar(select(User).where(User.username == username))
    ok = auth_service.password_matches(user, password) and user is not None and user.is_active
    if not ok or user is None or user.shop_id != shop_id or user.role not in SUPERVISING_ROLES:
        await throttle.failed(username, ip)
        await audit.record(
            session,
            actor=actor,
            action="reply.lint_override_refused",
            entity_type="user",
            entity_id=user.id if user is not None and user.shop_id == shop_id else "",
            after={"username": username[:64], "reason": "credentials" if not ok else "role"},
        )
        if not ok:
            raise OverrideRefused(
                "wrong supervisor username or password", key="override_credentials"
            )
        raise OverrideRefused(
            "only an active supervisor or admin of this shop may approve", key="override_role"
        )
    await throttle.succeeded(username, ip)
    return user


def may_approve_self(user: User) -> bool:
    return user.role in SUPERVISING_ROLES


def override_meta(check: ReplyCheck, approver: User, at: dt.datetime) -> dict[str, Any]:
    return {
        "approved_by": {"id": approver.id, "name": approver.display_name},
        "rules": sorted({f.rule for f in check.result.findings if f.severity == "block"}),
        "at": at.isoformat(),
    }


async def record_override(
    session: AsyncSession,
    *,
    actor: Actor,
    conversation: Conversation,
    message: Message,
    check: ReplyCheck,
    sender: User,
    approver: User,
) -> None:
    await audit.record(
        session,
        actor=actor,
        action="reply.lint_override",
        entity_type="message",
        entity_id=message.id,
        shop_id=conversation.shop_id,
        after={
            "conversation_id": conversation.id,
            "text": message.body,
            "findings": [f.public() for f in check.result.findings],
            "agent": {"id": sender.id, "username": sender.username},
            "approved_by": {"id": approver.id, "username": approver.username},
            "self_approved": approver.id == sender.id,
        },
    )


# --- usage events -------------------------------------------------------------------------------


async def _variant(session: AsyncSession, *, conversation: Conversation, script: Script) -> str:
    """The A/B variant this conversation's customer is served for the script (from its
    published version, the same rule the bot and the suggestions use)."""
    served = await served_script(session, script)
    if served is None:
        return "A"
    return served.choose(answer_channel(conversation.channel), conversation.customer_id)[0]


async def _event_exists(
    session: AsyncSession,
    *,
    conversation_id: int,
    script_id: int,
    kind: ScriptEventKind,
    message_id: int | None,
) -> bool:
    return await usage.script_use_exists(
        session,
        conversation_id=conversation_id,
        script_id=script_id,
        kind=kind,
        message_id=message_id,
    )


@dataclass(frozen=True)
class _Use:
    """What every usage event of one script in one conversation turn shares."""

    script_id: int
    channel: str
    variant: str
    message_id: int | None  # the customer message being answered


async def _use(session: AsyncSession, *, conversation: Conversation, script_id: int) -> _Use:
    script = await shop_script(session, shop_id=conversation.shop_id, script_id=script_id)
    latest = await latest_customer_message(session, conversation_id=conversation.id)
    return _Use(
        script_id=script.id,
        channel=answer_channel(conversation.channel),
        variant=await _variant(session, conversation=conversation, script=script),
        message_id=latest.id if latest is not None else None,
    )


async def _add_event(
    session: AsyncSession,
    *,
    conversation: Conversation,
    user: User,
    use: _Use,
    kind: ScriptEventKind,
    edited: bool | None = None,
) -> ScriptEvent:
    return await usage.record_script_use(
        session,
        shop_id=conversation.shop_id,
        script_id=use.script_id,
        kind=kind,
        channel=use.channel,
        variant=use.variant,
        conversation_id=conversation.id,
        message_id=use.message_id,
        user_id=user.id,
        edited=edited,
        publish=kind == ScriptEventKind.sent,
    )


async def _insert_once(
    session: AsyncSession, *, conversation: Conversation, user: User, use: _Use
) -> ScriptEvent | None:
    """`inserted` is counted once per customer message."""
    if await _event_exists(
        session,
        conversation_id=conversation.id,
        script_id=use.script_id,
        kind=ScriptEventKind.inserted,
        message_id=use.message_id,
    ):
        return None
    return await _add_event(
        session, conversation=conversation, user=user, use=use, kind=ScriptEventKind.inserted
    )


async def record_inserted(
    session: AsyncSession, *, conversation: Conversation, user: User, script_id: int
) -> ScriptEvent | None:
    """An agent put the script into the reply box; counted once per customer message."""
    use = await _use(session, conversation=conversation, script_id=script_id)
    return await _insert_once(session, conversation=conversation, user=user, use=use)


async def record_sent(
    session: AsyncSession,
    *,
    conversation: Conversation,
    user: User,
    script_id: int,
    text: str,
    inserted_text: str | None,
) -> ScriptEvent:
    """A reply that came from a script was sent: `sent` (edited when the text changed since the
    insertion), and `inserted` too when the workspace did not report it."""
    use = await _use(session, conversation=conversation, script_id=script_id)
    await _insert_once(session, conversation=conversation, user=user, use=use)
    edited = inserted_text is None or text.strip() != inserted_text.strip()
    return await _add_event(
        session,
        conversation=conversation,
        user=user,
        use=use,
        kind=ScriptEventKind.sent,
        edited=edited,
    )
