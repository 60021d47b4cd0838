from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xiaoer import clock
from xiaoer.db import Base, BigId, CreatedAtMixin, IdMixin


class ScriptStatus(enum.StrEnum):
    """Lifecycle of a script's working copy. What the bot serves is the published *version*
    (`Script.published_version`), which stays in service while a new draft is edited."""

    draft = "draft"
    review = "review"
    published = "published"
    retired = "retired"


class Channel(enum.StrEnum):
    """Where an answer is delivered; each channel may have its own wording."""

    im = "im"
    phone = "phone"
    email = "email"
    social = "social"


class Script(IdMixin, CreatedAtMixin, Base):
    """An approved answer (话术) with the customer questions it answers.

    `answer` is the default answer (IM wording, A/B variant "A"); `answers` holds the other
    channels' wordings and B variants. `triggers` narrows when the script may be used:
    `{"intents": [...], "keywords": [...], "customer_tags": [...], "channels": [...],
    "emotions": [...]}` (an empty or missing list means "any")."""

    __tablename__ = "script"
    __table_args__ = (Index("ix_script_shop_published_at", "shop_id", "published_at"),)

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    answer: Mapped[str] = mapped_column(Text)
    triggers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # False: for agents only (e.g. the calming pack); the bot never answers with it.
    bot_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    status: Mapped[ScriptStatus] = mapped_column(
        Enum(ScriptStatus, native_enum=False, length=20), default=ScriptStatus.draft
    )
    updated_at: Mapped[dt.datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    # The version the bot and the assist panel serve (None: never published or withdrawn).
    published_version: Mapped[int | None] = mapped_column(default=None)
    # Changes whenever what is served changes (publish, rollback, retire, A/B split).
    published_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Share of conversations served answer variant "B" while an A/B test runs.
    ab_split: Mapped[float | None] = mapped_column(default=None)

    questions: Mapped[list[ScriptQuestion]] = relationship(
        order_by="ScriptQuestion.id", lazy="selectin", cascade="all, delete-orphan"
    )
    answers: Mapped[list[ScriptAnswer]] = relationship(
        order_by="ScriptAnswer.id", lazy="selectin", cascade="all, delete-orphan"
    )


class ScriptQuestion(IdMixin, Base):
    """One way customers ask the script's question (a question variant)."""

    __tablename__ = "script_question"

    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"), index=True)
    text: Mapped[str] = mapped_column(String(500))


class ScriptAnswer(IdMixin, Base):
    """A channel's wording of the answer, or the B side of an A/B test. (IM, "A") is
    `Script.answer` itself and never stored here."""

    __tablename__ = "script_answer"
    __table_args__ = (UniqueConstraint("script_id", "channel", "variant"),)

    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"), index=True)
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=20))
    variant: Mapped[str] = mapped_column(String(1), default="A")
    body: Mapped[str] = mapped_column(Text)


class ScriptVersion(IdMixin, CreatedAtMixin, Base):
    """A published state of a script, kept forever (diff, rollback, what the bot serves)."""

    __tablename__ = "script_version"
    __table_args__ = (UniqueConstraint("script_id", "version"),)

    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"), index=True)
    version: Mapped[int] = mapped_column()
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), default=None
    )
    note: Mapped[str] = mapped_column(String(200), default="")


class ScriptAbTest(IdMixin, CreatedAtMixin, Base):
    """One A/B test of a script's answer variants; `ended_at` is set when a winner is picked
    or the test is stopped."""

    __tablename__ = "script_ab_test"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"), index=True)
    split: Mapped[float] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    winner: Mapped[str | None] = mapped_column(String(1), default=None)


class ScriptEventKind(enum.StrEnum):
    suggested = "suggested"  # shown to an agent as a suggestion
    inserted = "inserted"  # an agent put it into the reply box
    sent = "sent"  # an agent sent a reply that came from it (`edited` says if changed)
    bot_answered = "bot_answered"  # the bot answered with it


class ScriptEvent(IdMixin, CreatedAtMixin, Base):
    """One use of a script, for the per-script and per-variant statistics."""

    __tablename__ = "script_event"
    __table_args__ = (
        Index("ix_script_event_shop_script_kind", "shop_id", "script_id", "kind"),
        Index("ix_script_event_shop_created", "shop_id", "created_at"),
    )

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"))
    script_id: Mapped[int] = mapped_column(BigId, ForeignKey("script.id"))
    kind: Mapped[ScriptEventKind] = mapped_column(
        Enum(ScriptEventKind, native_enum=False, length=20)
    )
    channel: Mapped[str] = mapped_column(String(20), default="im")
    variant: Mapped[str] = mapped_column(String(1), default="A")
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversation.id"), default=None, index=True
    )
    # The customer message the script answered or was suggested for.
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("message.id"), default=None, index=True
    )
    user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("user_account.id"), default=None)
    score: Mapped[float | None] = mapped_column(default=None)
    # The match cleared the bot's answer threshold (coverage counts these).
    matched: Mapped[bool] = mapped_column(default=False)
    edited: Mapped[bool | None] = mapped_column(default=None)


class ProposalKind(enum.StrEnum):
    new_script = "new_script"
    new_variant = "new_variant"


class ProposalStatus(enum.StrEnum):
    open = "open"
    accepted = "accepted"
    rejected = "rejected"


class ScriptProposal(IdMixin, CreatedAtMixin, Base):
    """An agent's proposal from a conversation: a new script, or a question variant for an
    existing one (the customer's message becomes the variant)."""

    __tablename__ = "script_proposal"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shop.id"), index=True)
    kind: Mapped[ProposalKind] = mapped_column(Enum(ProposalKind, native_enum=False, length=20))
    status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, native_enum=False, length=20), default=ProposalStatus.open
    )
    script_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("script.id"), default=None)
    question: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(200), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversation.id"), default=None
    )
    message_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("message.id"), default=None)
    proposed_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), default=None
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user_account.id"), default=None
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
