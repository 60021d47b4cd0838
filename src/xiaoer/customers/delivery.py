"""Sending one-time verification codes: e-mail over SMTP, SMS through a provider.

`CodeSender.send(target, code, locale)` delivers or raises `DeliveryFailed`. The console SMS
provider only logs the code (development); settings refuse it in production. A real SMS gateway
plugs in as another `CodeSender` chosen by `XIAOER_SMS_PROVIDER`.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

_SUBJECT = {"zh-CN": "您的验证码", "en": "Your verification code"}
_BODY = {
    "zh-CN": "您的验证码是 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本邮件。",
    "en": "Your verification code is {code}. It is valid for {minutes} minutes. "
    "If you did not ask for it, ignore this e-mail.",
}


class DeliveryFailed(Exception):
    pass


class CodeSender(Protocol):
    async def send(self, target: str, code: str, *, locale: str, minutes: int) -> None: ...


class SmtpEmailSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls = user, password, starttls
        self.timeout = timeout

    def _send_blocking(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)

    async def send(self, target: str, code: str, *, locale: str, minutes: int) -> None:
        lang = locale if locale in _BODY else "zh-CN"
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = target
        message["Subject"] = _SUBJECT[lang]
        message.set_content(_BODY[lang].format(code=code, minutes=minutes))
        try:
            # smtplib blocks; a thread keeps the event loop serving other chats meanwhile.
            await asyncio.to_thread(self._send_blocking, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("verification_email_failed", error=str(exc)[:200])
            raise DeliveryFailed(str(exc)) from exc


class ConsoleSmsSender:
    """Development only: the code goes to the log instead of a phone."""

    async def send(self, target: str, code: str, *, locale: str, minutes: int) -> None:
        log.warning("verification_sms_console", to=target, code=code, minutes=minutes)


def make_senders(settings: Any) -> dict[str, CodeSender]:
    """The channels this installation can send codes through (`sms`, `email`)."""
    senders: dict[str, CodeSender] = {}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        senders["email"] = SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=password,
            starttls=settings.smtp_starttls,
        )
    provider = settings.sms_provider
    if provider is None:
        provider = "none" if settings.env == "production" else "console"
    if provider == "console":
        senders["sms"] = ConsoleSmsSender()
    return senders
