"""Imports every domain's tables so Base.metadata is complete (Alembic, tests, create_all)."""

from xiaoer.audit.models import AuditEntry
from xiaoer.auth.models import RecoveryCode, User, UserSession
from xiaoer.bot.models import BotDecision
from xiaoer.commerce.models import Order, Shipment, TrackingEvent
from xiaoer.conversations.models import Conversation, ConversationRead, Message
from xiaoer.customers.models import (
    ChatIdentitySecret,
    Customer,
    VerificationCode,
    VisitorIdentity,
)
from xiaoer.db import Base
from xiaoer.insights.models import QuestionClusterSnapshot
from xiaoer.jobs import Job
from xiaoer.knowledge.models import (
    Script,
    ScriptAbTest,
    ScriptAnswer,
    ScriptEvent,
    ScriptProposal,
    ScriptQuestion,
    ScriptVersion,
)
from xiaoer.outbox import OutboxEvent
from xiaoer.shops.models import Shop
from xiaoer.surveys.models import SurveyResponse
from xiaoer.tickets.models import Ticket, TicketEvent

__all__ = [
    "AuditEntry",
    "Base",
    "BotDecision",
    "ChatIdentitySecret",
    "Conversation",
    "ConversationRead",
    "Customer",
    "Job",
    "Message",
    "Order",
    "OutboxEvent",
    "QuestionClusterSnapshot",
    "RecoveryCode",
    "Script",
    "ScriptAbTest",
    "ScriptAnswer",
    "ScriptEvent",
    "ScriptProposal",
    "ScriptQuestion",
    "ScriptVersion",
    "Shipment",
    "Shop",
    "SurveyResponse",
    "Ticket",
    "TicketEvent",
    "TrackingEvent",
    "User",
    "UserSession",
    "VerificationCode",
    "VisitorIdentity",
]
