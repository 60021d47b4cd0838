"""The typed `{variables}` a script answer may use.

Every name here is filled when an answer is sent: order variables from the conversation's order
(`xiaoer.commerce.service.order_variables`), `customer_name` from the customer. Saving an answer
with any other `{name}` is refused (`service.clean_answer`), so a published answer never reaches a
customer with an unfilled placeholder. The type tells the editor how a value looks and which demo
value to show; the label is what agents see in place of a value that is still missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from xiaoer.commerce.service import CUSTOMER_VARIABLES, ORDER_VARIABLES, VARIABLE_LABELS

VariableType = Literal["text", "money", "date", "datetime", "enum", "list"]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Variable:
    name: str
    type: VariableType
    source: Literal["order", "customer"]
    example: str

    @property
    def label(self) -> str:
        return VARIABLE_LABELS.get(self.name, self.name)

    def public(self) -> dict[str, str]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "source": self.source,
            "example": self.example,
        }


_TYPES: dict[str, tuple[VariableType, str]] = {
    "order_no": ("text", "XE26031248305716"),
    "carrier": ("text", "顺丰速运"),
    "tracking_no": ("text", "SF1234567890123"),
    "shipment_status": ("enum", "运输中"),
    "eta": ("date", "3月14日（周六）"),
    "refund_status": ("enum", "退款处理中"),
    "latest_event": ("datetime", "03-13 08:12 杭州转运中心 已发出"),
    "order_status": ("enum", "已发货"),
    "items": ("list", "羊绒大衣（驼色 M）×1"),
    "amount": ("money", "¥899.00"),
    "customer_name": ("text", "王女士"),
}

VARIABLES: tuple[Variable, ...] = tuple(
    Variable(name=name, type=_TYPES[name][0], source="order", example=_TYPES[name][1])
    for name in ORDER_VARIABLES
) + tuple(
    Variable(name=name, type=_TYPES[name][0], source="customer", example=_TYPES[name][1])
    for name in CUSTOMER_VARIABLES
)
BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
KNOWN_VARIABLES: tuple[str, ...] = tuple(BY_NAME)
ORDER_VARIABLE_NAMES: frozenset[str] = frozenset(ORDER_VARIABLES)


def unknown(names: list[str]) -> list[str]:
    """The names no order or customer fills."""
    return [n for n in names if n not in BY_NAME]


def example_values() -> dict[str, str]:
    """A value per variable, for previews without a demo order."""
    return {v.name: v.example for v in VARIABLES}


def render_answer(template: str, values: dict[str, str], *, placeholder: bool = False) -> str:
    """Fills `{name}`; unknown or missing names stay as `{name}`, or `【订单号】` with
    `placeholder` (the agent sees what still needs filling in)."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        if placeholder:
            return f"【{VARIABLE_LABELS.get(name, name)}】"
        return m.group(0)

    return _PLACEHOLDER.sub(fill, template)
