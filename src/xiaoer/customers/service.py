"""Customer records: web-chat visitors, masking of contact details. How a visitor proves which
customer they are is `customers.verification`; the staff's customer 360° view, which reads
other domains, is composed in `customers.overview` (view layer).

Public functions:
- `get_or_create_visitor(session, *, shop_id, token)` -> the visitor identity (new token if unknown)
- `get_customer(session, *, shop_id, customer_id)`, `customer_brief(customer)`, `mask_name(name)`
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.customers.models import Customer, VisitorIdentity
from xiaoer.errors import InvalidInput, NotFound

VISITOR_NAME_PREFIX = "访客"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_PHONE_JUNK = re.compile(r"[\s\-()（）]")


def normalize_phone(raw: str) -> str:
    """Mainland numbers as 11 digits (`+86 138-0013-8000` -> `13800138000`); others digits only."""
    phone = _PHONE_JUNK.sub("", raw.strip())
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix) :]
    if phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not re.fullmatch(r"\+?\d{5,20}", phone):
        raise InvalidInput("phone must be a telephone number")
    return phone


def mask_name(name: str) -> str:
    """`张三丰` -> `张**`: enough for the customer to recognise, too little to harvest."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * min(len(name) - 1, 4) if len(name) > 1 else name


def customer_brief(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "tags": list(customer.tags or [])}


async def get_customer(session: AsyncSession, *, shop_id: int, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None or customer.shop_id != shop_id:
        raise NotFound("customer not found")
    return customer


async def get_or_create_visitor(
    session: AsyncSession, *, shop_id: int, token: str | None
) -> VisitorIdentity:
    """The browser's identity. An unknown or malformed token gets a fresh token (and an anonymous
    customer record), so a client cannot choose another visitor's token by guessing its format."""
    if token and _TOKEN_RE.match(token):
        visitor = await session.scalar(
            select(VisitorIdentity).where(
                VisitorIdentity.shop_id == shop_id, VisitorIdentity.token == token
            )
        )
        if visitor is not None:
            return visitor
    token = secrets.token_urlsafe(24)
    customer = Customer(shop_id=shop_id, name=f"{VISITOR_NAME_PREFIX}{token[:4]}", tags=[])
    session.add(customer)
    await session.flush()
    visitor = VisitorIdentity(shop_id=shop_id, token=token, customer_id=customer.id)
    session.add(visitor)
    await session.flush()
    return visitor


# ---- staff reads: the customer 360° view (API, workspace side panel, customer page) ----------


def mask_phone(phone: str | None) -> str | None:
    """`13812341234` -> `138****1234`: agents recognise the number without being able to dial it."""
    if not phone:
        return phone
    if len(phone) >= 8:
        return phone[:3] + "****" + phone[-4:]
    return phone[:1] + "*" * (len(phone) - 1)


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def sees_contact_details(viewer: Any) -> bool:
    """Agents see masked phone numbers and e-mail; supervisors and admins the real ones."""
    return str(getattr(viewer, "role", "")) in ("admin", "supervisor")


async def access_customer(session: AsyncSession, user: Any, customer_id: int) -> Customer:
    """The only permission-checked fetch of a staff-supplied customer id (NotFound otherwise)."""
    return await get_customer(session, shop_id=user.shop_id, customer_id=customer_id)
