from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from xiaoer.db import Base, CreatedAtMixin, IdMixin


class Shop(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "shop"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Origins (`https://shop.example.com`) whose pages may frame the customer widget; none means
    # the widget cannot be framed at all (CSP frame-ancestors).
    widget_origins: Mapped[list[Any] | None] = mapped_column(default=None)
    # The shop's brand colour (`#rrggbb`) for the widget; darkened when white text on it would
    # fail WCAG AA contrast.
    widget_color: Mapped[str | None] = mapped_column(String(7), default=None)
