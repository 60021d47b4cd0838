"""Which parts of the shop's recommended answer structure an answer has.

The shop's standard (issue 3 §1) recommends, per kind of category:
- consultation: layered **information**, then a **guiding action** (what the customer can do);
- after_sale: **responsibility** (who takes care of it), a **solution**, a **time promise**;
- complaint: **acknowledgement** of the customer's feelings, **compensation**, and a
  transparent **next step** (what happens now).

Detection is deliberately simple: each part has a cue lexicon (Chinese phrases and a few
patterns); a part is present when any cue occurs. The editor shows present/missing chips, so a
cue list that is too generous only hides a hint, it never blocks anything (blocking is the
compliance lint's job). Spans are character offsets of the first cue, for highlighting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xiaoer.knowledge.categories import category_kind

_NUM = r"(?:\d+|[一二两三四五六七八九十半]+)"

_CUES: dict[str, tuple[str, ...]] = {
    # Facts the customer asked for: a filled-in order value, a number, or a statement of policy.
    "information": (
        r"\{[a-z_]+\}",
        r"\d",
        r"支持|包括|包含|默认|采用|提供|适用|属于|规格|标准|尺码|面料|材质|发货|配送|"
        r"有效期|规则|活动期间|满\S{0,3}减|可开具|可以开|目前|现在|已经|正在",
    ),
    "guiding_action": (
        r"您可以|可以点击|请点击|点击|请回复|回复|请您|请在|请提供|请告诉|请发送|"
        r"下单时|领取|前往|进入|查看|戳|联系客服|备注|选择|填写|提交",
    ),
    "responsibility": (
        r"由我们承担|我们承担|我们来承担|我们负责|由我们负责|商家承担|运费由|我们的责任|"
        r"我们的(?:失误|疏忽|问题)|是我们|责任在|给您带来(?:了)?(?:不便|困扰|麻烦)|抱歉|对不起",
    ),
    "solution": (
        r"退款|退货|换货|补发|重新发|重发|维修|上门取件|寄回|退回|补寄|办理|为您(?:安排|处理|"
        r"申请|补|退|换|修)|处理方案|解决",
    ),
    "time_promise": (
        _NUM + r"\s*个?\s*(?:小时|工作日|天|日|分钟|周|星期)(?:内|之内|以内)?",
        r"今天|今日|明天|明日|当天|当日|\d{1,2}\s*[点:：]",
    ),
    "acknowledgement": (
        r"抱歉|对不起|理解您的心情|理解您|非常理解|感同身受|让您失望|给您带来(?:了)?(?:不便|困扰|"
        r"麻烦|不好的体验)|辛苦您|委屈|歉意|不好意思|心情",
    ),
    "compensation": (
        r"补偿|赔偿|赔付|退款|优惠券|无门槛券|红包|返现|免单|补贴|积分|退还|全额退|"
        r"\d+\s*元(?:券|红包)?",
    ),
    "next_step": (
        r"接下来|稍后|随后|我会|我们会|将会|跟进|进度|联系您|回复您|通知您|下一步|处理结果|"
        r"首先|然后|第一步|马上|立即|立刻",
    ),
}

PARTS: dict[str, tuple[str, ...]] = {
    "consultation": ("information", "guiding_action"),
    "after_sale": ("responsibility", "solution", "time_promise"),
    "complaint": ("acknowledgement", "compensation", "next_step"),
}

_COMPILED: dict[str, re.Pattern[str]] = {
    part: re.compile("|".join(f"(?:{p})" for p in patterns)) for part, patterns in _CUES.items()
}


@dataclass(frozen=True)
class Part:
    part: str
    present: bool
    start: int = 0
    end: int = 0

    def public(self) -> dict[str, object]:
        return {"part": self.part, "present": self.present, "start": self.start, "end": self.end}


def find_part(part: str, text: str) -> Part:
    match = _COMPILED[part].search(text)
    if match is None:
        return Part(part, False)
    return Part(part, True, match.start(), match.end())


def analyse(text: str, kind: str | None) -> list[Part]:
    """The recommended parts of `kind` (consultation/after_sale/complaint) and whether `text`
    has each; no parts for an answer without a kind."""
    return [find_part(part, text) for part in PARTS.get(kind or "", ())]


def analyse_category(text: str, category: str | None) -> list[Part]:
    return analyse(text, category_kind(category))


def missing(text: str, kind: str | None) -> list[str]:
    return [p.part for p in analyse(text, kind) if not p.present]
