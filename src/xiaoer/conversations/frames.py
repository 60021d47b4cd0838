"""Realtime topics and the JSON shapes of conversations and messages (frames and API bodies).

Two topics per conversation keep staff-only data away from customers by construction:
`conversation:<id>` carries what the customer may see (their widget subscribes to it) and
`conversation:<id>:staff` carries everything, internal notes and bot decisions included (staff
watchers subscribe to it). `queue:<shop_id>` carries list changes for every staff member of the
shop, `agent:<user_id>` what concerns one agent only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from xiaoer import clock
from xiaoer.conversations.models import Conversation, Message, SenderType


def customer_topic(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def staff_topic(conversation_id: int) -> str:
    return f"conversation:{conversation_id}:staff"


def queue_topic(shop_id: int) -> str:
    return f"queue:{shop_id}"


def agent_topic(user_id: int) -> str:
    return f"agent:{user_id}"


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def customer_message(message: Message, sender_name: str = "") -> dict[str, Any]:
    """A message as the customer's widget sees it (never called for internal notes)."""
    data: dict[str, Any] = {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender_type": str(message.sender_type),
        "sender_name": sender_name,
        "body": message.body,
        "created_at": iso(message.created_at),
        "client_msg_id": message.client_msg_id,
    }
    # System messages carry a translation key so an English widget can show English text.
    i18n = (message.meta or {}).get("i18n")
    if message.sender_type == SenderType.system and i18n:
        data["i18n"] = i18n
    return data


def staff_message(message: Message, sender_name: str = "") -> dict[str, Any]:
    data = customer_message(message, sender_name)
    data["internal"] = message.sender_type == SenderType.note
    data["sender_id"] = message.sender_id
    data["meta"] = message.meta or {}
    return data


def conversation_summary(
    conversation: Conversation,
    *,
    customer: dict[str, Any] | None = None,
    assignee: dict[str, Any] | None = None,
    last_message: Message | None = None,
    unread: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The list row of a conversation; `unread` is per viewer and absent in broadcast frames."""
    now = now or clock.now()
    waiting = None
    if conversation.queued_at is not None and conversation.status == "queued":
        waiting = max(0, int((now - conversation.queued_at).total_seconds()))
    data: dict[str, Any] = {
        "id": conversation.id,
        "status": str(conversation.status),
        "priority": conversation.priority,
        "channel": conversation.channel,
        "customer": customer,
        "assignee": assignee,
        "handoff_reason": conversation.handoff_reason,
        "queued_at": iso(conversation.queued_at),
        "waiting_seconds": waiting,
        "accepted_at": iso(conversation.accepted_at),
        "closed_at": iso(conversation.closed_at),
        "created_at": iso(conversation.created_at),
        "last_message_at": iso(conversation.last_message_at),
        "order_id": conversation.order_id,
        "last_message": None,
    }
    if last_message is not None:
        data["last_message"] = {
            "id": last_message.id,
            "body": last_message.body[:200],
            "sender_type": str(last_message.sender_type),
            "created_at": iso(last_message.created_at),
        }
    if unread is not None:
        data["unread"] = unread
    return data
