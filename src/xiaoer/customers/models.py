from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class Customer(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("shop_id", "phone"),
        # The shopper's id in the merchant's own site or app (signed identity tokens).
        Index("ix_customer_shop_external_id", "shop_id", "external_id", unique=True),
    )

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)


class VisitorIdentity(IdMixin, CreatedAtMixin, Base):
    """A browser's visitor token and its own (anonymous) customer record. A verified session
    names the customer the visitor proved to be, until `verified_until`; `customer_id` never
    points at anyone else, so an expired session leaves the browser with nothing of theirs."""

    __tablename__ = "visitor_identity"
    __table_args__ = (UniqueConstraint("shop_id", "token"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    token: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    verified_customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customer.id"), default=None
    )
    verified_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    verified_method: Mapped[str | None] = mapped_column(String(20), default=None)


class VerificationCode(IdMixin, CreatedAtMixin, Base):
    """A one-time code sent to a phone or e-mail address; only its keyed hash is stored."""

    __tablename__ = "verification_code"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    visitor_token: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms / email
    target: Mapped[str] = mapped_column(String(200))  # normalised phone or e-mail
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), default=None)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ChatIdentitySecret(IdMixin, CreatedAtMixin, Base):
    """The per-shop key the merchant's site signs shopper identity tokens with."""

    __tablename__ = "chat_identity_secret"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(100))
    rotated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
