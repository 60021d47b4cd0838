"""Two weeks of past activity for the demo shop, so a first look at the workspace history, the
customer 360° panel and the insights pages shows real-looking numbers.

Conversations are simulated turn by turn: every customer message the bot handles goes through
the real `bot.service.decide` (so script ids, confidences and hand-offs are genuine), and agent
replies come from the real `bot.service.suggest` ranking. The rows the product would have
written (messages, bot decisions, script events, ratings) are then bulk-inserted with explicit
timestamps: the services stamp `utcnow()`, and going through the ORM row by row would make the
demo start-up slow. Proposals and the A/B test do go through their services (few rows, audited)
and are backdated afterwards. Tickets are not seeded: `tickets.service.create_ticket` numbers a
ticket by today's date, which a backdated ticket would contradict.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer.assist import service as assist
from xiaoer.audit.models import AuditEntry
from xiaoer.auth.models import Role, User
from xiaoer.auth.service import actor_for
from xiaoer.bot import service as bot
from xiaoer.bot.engine import BotRegistry
from xiaoer.bot.models import BotDecision
from xiaoer.commerce.models import Order
from xiaoer.commerce.service import ORDER_VARIABLES
from xiaoer.conversations.models import Conversation, ConversationStatus, Message, SenderType
from xiaoer.conversations.service import system_text
from xiaoer.customers.models import Customer
from xiaoer.errors import DomainError
from xiaoer.insights import abtest
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.library import answer_channel
from xiaoer.knowledge.models import (
    ProposalKind,
    Script,
    ScriptAbTest,
    ScriptEventKind,
    ScriptProposal,
    ScriptVersion,
)
from xiaoer.knowledge.models import ScriptEvent as ScriptEventRow
from xiaoer.surveys.models import SurveyResponse

SHOP_TZ = ZoneInfo("Asia/Shanghai")
DAYS = 14
REOPEN_GAP_HOURS = 26  # keep unrelated conversations of one customer out of the 24 h window
MAX_COMEBACKS = 12

# Conversations per kind (comebacks come on top, ~10).
MIX = {"bot": 52, "ab": 20, "request": 22, "angry": 8, "direct": 6, "unanswered": 26}
N_EMAIL = 8
N_PHONE = 5

# The A/B-tested script and its B wording (no order variables, so either side reads the same
# whatever the customer's order).
AB_TITLE = "发货时间"
AB_B_WORDING = (
    "亲，现货商品付款后 48 小时内就会从杭州仓发出哦（预售商品按详情页标注的时间发货）~ "
    "发出后订单页面马上能看到快递单号，有问题随时找小二！"
)
AB_STARTED_DAYS_AGO = 9

# Local hour → weight: e-commerce chats peak late morning, afternoon and in the evening.
_HOURS = {
    8: 1,
    9: 4,
    10: 7,
    11: 7,
    12: 4,
    13: 5,
    14: 7,
    15: 7,
    16: 6,
    17: 4,
    18: 3,
    19: 4,
    20: 7,
    21: 8,
    22: 5,
    23: 2,
}

# How often customers ask each script (others: 1). Greetings and thanks are openers/closers.
_POPULAR = {
    "查询物流进度": 8,
    "预计送达时间": 4,
    "催发货": 4,
    "退款进度查询": 4,
    "申请退货流程": 3,
    "七天无理由退货": 3,
    "尺码推荐": 4,
    "退货运费": 3,
    "修改收货地址": 3,
    "包邮与运费": 3,
    "优惠券使用": 3,
    "退款到账时间": 2,
    "换货流程": 2,
    "开具发票": 2,
}
_NOT_ASKED = {"问候", "致谢结束", AB_TITLE}
# Topics an upset customer brings to a person.
_COMPLAINTS = (
    "物流长时间不更新",
    "显示签收但没收到",
    "发错货",
    "少发漏发",
    "衣服质量问题",
    "收到商品破损",
    "退款进度查询",
    "催发货",
    "数码产品故障",
)
_ANGRY = (
    "气死我了你们怎么回事！！",
    "你们这什么破服务",
    "太过分了，我要投诉！",
    "垃圾店铺，骗子！",
    "到底有没有人管，气死了！",
    "什么破店，烦死了！！",
)
_ASK_PERSON = ("转人工", "人工客服", "我要找人工", "找个真人", "人工", "转人工客服", "人工！")
_THANKS = ("好的谢谢", "谢谢", "好的，明白了", "ok谢谢", "好的", "行，谢谢啦")
_GREETINGS = ("你好", "在吗", "您好", "有人吗", "亲在吗")
_COMEBACK = (
    "又是我，刚才的问题还是没解决",
    "昨天问过了，还是不行",
    "刚刚说的还是没搞定",
    "我又来了，之前那个问题",
)
_AGENT_BYE = ("不客气哦~ 有问题随时找我", "不客气，祝您生活愉快~", "好的亲，不客气~")


@dataclass(frozen=True)
class _Topic:
    """A question the library does not answer: customers' wordings, an agent's answer."""

    title: str
    questions: tuple[str, ...]
    answer: str


_UNANSWERED = (
    _Topic(
        "寄到公司地址",
        (
            "可以寄到公司吗",
            "能寄到公司地址吗",
            "寄到单位行不行",
            "能送到写字楼吗",
            "可以寄到公司吗？",
        ),
        "亲，可以寄到公司的，收货地址填公司地址并写上公司名称就行；写字楼一般送到前台或快递柜，"
        "周末公司没人的话建议填家里的地址哦~",
    ),
    _Topic(
        "儿童款与儿童尺码",
        ("有没有儿童款", "有儿童款吗", "童装有吗", "有小孩穿的尺码吗", "有没有儿童尺码"),
        "亲，店里目前只有成人款，最小码是 XS（适合身高 150-155cm），暂时没有儿童款和亲子装，"
        "上新了会第一时间通知您~",
    ),
    _Topic(
        "以旧换新",
        ("支持以旧换新吗", "旧手机能换新吗", "以旧换新怎么弄", "旧耳机可以折价换新吗"),
        "亲，数码类商品支持以旧换新：在订单页点「以旧换新」估价，旧机寄回验机后折价款会退到您的"
        "原支付账户，一般 3 个工作日内到账~",
    ),
    _Topic(
        "刻字与个性定制",
        ("能不能刻字", "可以刻字吗", "表带能刻名字吗", "能印字吗"),
        "亲，零售订单暂不支持刻字或印字，企业批量采购（50 件起）可以定制 logo，需要的话我帮您"
        "登记一下~",
    ),
    _Topic(
        "预约送货时间",
        ("能指定周末送货吗", "可以晚上送吗", "能约时间送货吗"),
        "亲，快递的派送时间没法在下单时指定，您可以在下单备注里写上方便收货的时间，派送前快递员会"
        "电话联系您，也可以让放快递柜~",
    ),
    _Topic(
        "国家补贴",
        ("能用国补吗", "有国家补贴吗", "支持政府补贴吗", "国补怎么领"),
        "亲，目前店铺还没有参与国家以旧换新补贴，智能手表、耳机等数码产品如果接入了会在详情页"
        "标明「国补」，届时下单自动减免~",
    ),
    _Topic(
        "直播间价格",
        ("直播间的价格能给吗", "直播价还有吗", "主播说的优惠怎么没有"),
        "亲，直播间价格是直播期间限时的专享价，直播结束后就恢复原价了，下次直播时间会在店铺首页"
        "公告，可以先关注一下哦~",
    ),
    _Topic(
        "加大码",
        ("有加大码吗", "有没有大码的", "xxl有吗", "胖子能穿吗"),
        "亲，大部分款式最大到 XXL（建议体重 160 斤以内），部分卫衣和羽绒服有 3XL，具体看详情页"
        "尺码表，告诉我身高体重我帮您选~",
    ),
)

_PREFIXES = ("", "", "", "", "请问", "请问", "你好，", "亲，", "那个", "我想问下", "问下")
_SUFFIXES = ("", "", "", "", "？", "？", "啊", "呀", "。", "??", "~")
_COMMENTS = {
    5: ("回复很快，点赞", "客服很耐心", "解决了，谢谢", "很满意", "小二很贴心"),
    4: ("还不错", "挺好的", "基本解决了"),
    3: ("一般吧", "等得有点久", "还行"),
    2: ("问题没完全解决", "回复太慢了", "机器人答非所问"),
    1: ("根本没解决问题", "太差了", "机器人听不懂"),
}
# Rating distributions (weights for 1..5) by how the conversation went.
_RATINGS = {
    "bot": (3, 5, 13, 31, 48),
    "agent": (2, 3, 9, 26, 60),
    "angry": (10, 12, 22, 28, 28),
    "poor": (20, 24, 28, 16, 12),
    "ab_a": (4, 7, 16, 33, 40),
    "ab_b": (2, 3, 10, 30, 55),
}
_PLACEHOLDER = re.compile(r"【[^】]*】")


@dataclass(frozen=True)
class HistorySummary:
    conversations: int
    messages: int
    bot_decisions: int
    script_events: int
    ratings: int
    proposals: int
    ab_test_script: str
    seconds: float

    def line(self) -> str:
        return (
            f"History (last {DAYS} days): {self.conversations} conversations, "
            f"{self.messages} messages, {self.bot_decisions} bot decisions, "
            f"{self.script_events} script events, {self.ratings} ratings, "
            f"{self.proposals} open proposals, A/B test running on 「{self.ab_test_script}」 "
            f"({self.seconds:.1f} s)"
        )


@dataclass
class _Msg:
    at: dt.datetime
    sender: SenderType
    body: str
    sender_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    decision: bot.BotResult | None = None
    client_msg_id: str | None = None


@dataclass
class _Event:
    msg: int  # index of the customer message in the conversation
    at: dt.datetime
    kind: ScriptEventKind
    script_id: int
    channel: str
    variant: str
    user_id: int | None = None
    score: float | None = None
    matched: bool = False
    edited: bool | None = None


@dataclass
class _Conv:
    customer_id: int
    channel: str
    start: dt.datetime
    kind: str
    messages: list[_Msg] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)
    status: ConversationStatus = ConversationStatus.bot
    priority: int = 3
    assignee_id: int | None = None
    order_id: int | None = None
    turns: int = 0
    handoff_reason: str | None = None
    queued_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    rating: tuple[int, str] | None = None
    proposal: tuple[ProposalKind, int, int | None, str, str] | None = None  # msg, script…
    ab_variant: str | None = None
    topic: str = ""  # the script title or unanswered topic, for follow-ups


@dataclass(frozen=True)
class _Staff:
    id: int
    name: str


class _Simulator:
    def __init__(
        self,
        session: AsyncSession,
        *,
        shop_id: int,
        registry: BotRegistry,
        rng: random.Random,
        now: dt.datetime,
        scripts: list[Script],
        customers: dict[int, list[Order]],
        agents: list[_Staff],
        ab_script_id: int,
        ab_started: dt.datetime,
    ) -> None:
        self.session = session
        self.shop_id = shop_id
        self.registry = registry
        self.rng = rng
        self.now = now
        self.by_title = {s.title: s for s in scripts}
        self.customers = customers
        self.agents = agents
        self.ab_script_id = ab_script_id
        self.ab_started = ab_started
        self.today = now.astimezone(SHOP_TZ).date()
        self.starts: dict[int, list[dt.datetime]] = {c: [] for c in customers}
        self.conversations: list[_Conv] = []
        self.comeback_count = 0
        asked = [s for s in scripts if s.bot_enabled and s.title not in _NOT_ASKED]
        self.asked = asked
        self.asked_weights = [_POPULAR.get(s.title, 1) for s in asked]

    # ---- time and people ---------------------------------------------------------------------

    def _latest_start(self) -> dt.datetime:
        return self.now - dt.timedelta(hours=1)  # room to finish before now

    def moment(
        self, *, day_back: int | None = None, after: dt.datetime | None = None
    ) -> dt.datetime:
        """A start time on a local day of the last two weeks, mostly in business hours."""
        rng = self.rng
        latest = self._latest_start()
        for _ in range(40):
            back = day_back if day_back is not None else rng.randrange(DAYS)
            day = self.today - dt.timedelta(days=back)
            hour = rng.choices(list(_HOURS), weights=list(_HOURS.values()))[0]
            local = dt.datetime.combine(
                day, dt.time(hour, rng.randrange(60), rng.randrange(60)), SHOP_TZ
            )
            at = local.astimezone(dt.UTC)
            if at <= latest and (after is None or at >= after):
                return at
        # Early in the local day: whatever time has passed today (customers write at night too).
        midnight = dt.datetime.combine(self.today, dt.time(), SHOP_TZ).astimezone(dt.UTC)
        low = max(midnight, after) if after is not None else midnight
        if low < latest:
            return low + dt.timedelta(seconds=rng.uniform(0, (latest - low).total_seconds()))
        return self.moment(day_back=1 + rng.randrange(DAYS - 1), after=None)

    def customer_at(self, at: dt.datetime, pool: list[int] | None = None) -> int:
        """A customer without another conversation within a day of `at` (so only planned
        comebacks count against resolution)."""
        ids = pool or list(self.customers)
        gap = dt.timedelta(hours=REOPEN_GAP_HOURS)
        for _ in range(60):
            cid = self.rng.choice(ids)
            if all(abs(s - at) > gap for s in self.starts[cid]):
                return cid
        return self.rng.choice(ids)

    def agent(self) -> _Staff:
        return self.rng.choices(self.agents, weights=[5, 4, 3, 1][: len(self.agents)])[0]

    # ---- texts ---------------------------------------------------------------------------------

    def edit(self, question: str) -> str:
        """A question variant as a customer would type it this time."""
        rng = self.rng
        text = question
        if rng.random() < 0.15:
            text = text.replace("吗", "么")
        if rng.random() < 0.1:
            text = text.replace("什么", "啥")
        prefix = rng.choice(_PREFIXES)
        suffix = rng.choice(_SUFFIXES)
        if text.endswith(("?", "？", "吗", "么", "呢")) and suffix in ("啊", "呀"):
            suffix = ""
        return f"{prefix}{text}{suffix}"

    def question(self, script: Script, *, with_order: Order | None = None) -> str:
        text = self.edit(self.rng.choice([q.text for q in script.questions]))
        if with_order is not None:
            if self.rng.random() < 0.5:
                return f"{with_order.order_no} {text}"
            return f"订单号{with_order.order_no}，{text}"
        return text

    def uses_order(self, script: Script) -> bool:
        return any(v in ORDER_VARIABLES for v in bot.template_variables(script.answer))

    def pick_script(self) -> Script:
        return self.rng.choices(self.asked, weights=self.asked_weights)[0]

    def order_for(self, customer_id: int) -> Order | None:
        orders = self.customers[customer_id]
        return self.rng.choice(orders) if orders else None

    # ---- one conversation ----------------------------------------------------------------------

    def open(self, customer_id: int, at: dt.datetime, kind: str, channel: str = "webchat") -> _Conv:
        conv = _Conv(customer_id=customer_id, channel=channel, start=at, kind=kind)
        self.starts[customer_id].append(at)
        self.conversations.append(conv)
        return conv

    def _tick(self, conv: _Conv, low: float, high: float) -> dt.datetime:
        last = conv.messages[-1].at if conv.messages else conv.start - dt.timedelta(seconds=1)
        return last + dt.timedelta(seconds=self.rng.uniform(low, high))

    def _system(self, conv: _Conv, at: dt.datetime, key: str, **params: Any) -> None:
        conv.messages.append(
            _Msg(
                at,
                SenderType.system,
                system_text(key, **params),
                meta={"i18n": {"key": key, "params": params}},
            )
        )

    def _queue(self, conv: _Conv, at: dt.datetime, reason: str) -> None:
        conv.status = ConversationStatus.queued
        conv.queued_at = at
        conv.handoff_reason = reason
        self._system(conv, at, "conversations.system.queued", ahead=self.rng.randint(0, 3))

    async def customer(
        self, conv: _Conv, text: str, *, gap: tuple[float, float] = (15, 80)
    ) -> bot.BotResult | None:
        """The customer writes; while the conversation is with the bot, the bot decides and
        answers as `conversations.service._bot_turn` does."""
        at = self._tick(conv, *gap) if conv.messages else conv.start
        msg = _Msg(at, SenderType.customer, text, client_msg_id=f"h{self.rng.getrandbits(60):x}")
        conv.messages.append(msg)
        if conv.status != ConversationStatus.bot:
            return None
        decision = await bot.decide(
            self.session,
            registry=self.registry,
            shop_id=self.shop_id,
            text=text,
            customer_id=conv.customer_id,
            unanswered_turns=conv.turns,
        )
        self._before_test(decision, at)
        msg.decision = decision
        summary = {
            "script_id": decision.script_id,
            "script_title": decision.script_title,
            "intent": decision.intent,
            "confidence": round(float(decision.confidence or 0.0), 4),
            "handoff": decision.handoff,
            "handoff_reason": decision.handoff_reason,
        }
        msg.meta = {"bot": summary}
        if decision.order_id is not None and conv.order_id is None:
            conv.order_id = decision.order_id
        emotion = decision.emotion
        if emotion.get("polarity") == "negative" and float(emotion.get("intensity") or 0) >= 0.7:
            conv.priority = min(conv.priority, 2)
        reply_at = at + dt.timedelta(seconds=self.rng.uniform(0.4, 1.5))
        conv.messages.append(
            _Msg(
                reply_at,
                SenderType.bot,
                decision.answer or system_text("conversations.bot.fallback"),
                meta={"bot": summary, "sender_name": system_text("conversations.bot.name")},
            )
        )
        if decision.script_id is not None and not decision.needs_order and not decision.handoff:
            # What bot.service.record_decision writes alongside the decision.
            conv.events.append(
                _Event(
                    len(conv.messages) - 2,
                    reply_at,
                    ScriptEventKind.bot_answered,
                    decision.script_id,
                    decision.channel,
                    decision.variant or "A",
                    score=float(decision.confidence),
                    matched=True,
                )
            )
        if decision.handoff:
            self._queue(
                conv, reply_at + dt.timedelta(milliseconds=200), str(decision.handoff_reason)
            )
        else:
            conv.turns = 0 if decision.script_id else conv.turns + 1
        return decision

    def _before_test(self, decision: bot.BotResult, at: dt.datetime) -> None:
        """The trained library already has the A/B split; before the test started everyone got
        wording A."""
        if (
            decision.script_id == self.ab_script_id
            and decision.variant == "B"
            and at < self.ab_started
        ):
            decision.variant = "A"
            decision.answer = self.by_title[AB_TITLE].answer

    def accept(self, conv: _Conv, agent: _Staff, *, wait: tuple[float, float] = (20, 240)) -> None:
        if conv.queued_at is None:
            self._queue(conv, self._tick(conv, 0.5, 2), "customer_request")
        at = self._tick(conv, *wait)
        conv.status = ConversationStatus.active
        conv.assignee_id = agent.id
        conv.accepted_at = at
        self._system(conv, at, "conversations.system.accepted", agent=agent.name)

    def say(
        self, conv: _Conv, agent: _Staff, text: str, *, gap: tuple[float, float] = (30, 120)
    ) -> None:
        at = self._tick(conv, *gap)
        conv.messages.append(
            _Msg(at, SenderType.agent, text, sender_id=agent.id, meta={"sender_name": agent.name})
        )

    async def reply_from_script(
        self,
        conv: _Conv,
        agent: _Staff,
        *,
        intended: str | None = None,
        gap: tuple[float, float] = (30, 120),
    ) -> int | None:
        """The agent answers the latest customer message from the assist panel: the top three
        suggestions are shown (`suggested`), one is inserted and sent, sometimes edited."""
        index = max(i for i, m in enumerate(conv.messages) if m.sender == SenderType.customer)
        asked = conv.messages[index]
        found = await bot.suggest(
            self.session,
            registry=self.registry,
            shop_id=self.shop_id,
            text=asked.body,
            customer_id=conv.customer_id,
            order_id=conv.order_id,
            k=3,
            channel=answer_channel(conv.channel),
            candidates=10,
        )
        if not found:
            return None
        found = [self._suggestion_before_test(s, asked.at) for s in found]
        shown = found[:3]
        shown_at = asked.at + dt.timedelta(seconds=self.rng.uniform(1, 5))
        if conv.accepted_at is not None and shown_at < conv.accepted_at:
            shown_at = conv.accepted_at + dt.timedelta(seconds=self.rng.uniform(1, 5))
        for s in shown:
            conv.events.append(
                _Event(
                    index,
                    shown_at,
                    ScriptEventKind.suggested,
                    s.script_id,
                    s.channel,
                    s.variant,
                    score=s.score,
                    matched=s.matched,
                )
            )
        chosen = next((s for s in found if s.title == intended), None) if intended else None
        if chosen is None:
            chosen = shown[0] if self.rng.random() < 0.8 or len(shown) < 2 else shown[1]
        text = chosen.text
        edited = self.rng.random() < 0.4
        if _PLACEHOLDER.search(text):
            edited = True
            text = _PLACEHOLDER.sub("", text)
        if edited:
            text = self.agent_edit(text, conv)
        self.say(conv, agent, text, gap=gap)
        sent = conv.messages[-1]
        sent.meta["script_id"] = chosen.script_id
        typing = dt.timedelta(seconds=self.rng.uniform(4, 25) if edited else 3)
        inserted_at = max(sent.at - typing, shown_at)
        for kind, at, flag in (
            (ScriptEventKind.inserted, inserted_at, None),
            (ScriptEventKind.sent, sent.at, edited),
        ):
            conv.events.append(
                _Event(
                    index,
                    at,
                    kind,
                    chosen.script_id,
                    chosen.channel,
                    chosen.variant,
                    user_id=agent.id,
                    edited=flag,
                )
            )
        return chosen.script_id

    def _suggestion_before_test(self, s: bot.Suggestion, at: dt.datetime) -> bot.Suggestion:
        if s.script_id == self.ab_script_id and s.variant == "B" and at < self.ab_started:
            script = self.by_title[AB_TITLE]
            return bot.Suggestion(
                s.script_id,
                s.title,
                script.answer,
                s.score,
                "A",
                s.channel,
                s.confidence,
                s.matched,
            )
        return s

    def agent_edit(self, text: str, conv: _Conv) -> str:
        """Agents personalise a script a little before sending."""
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            return text.replace("亲，", "您好，", 1) if "亲，" in text else "您好，" + text
        if choice == 1:
            return text.rstrip("~") + " 还有其他可以帮您的吗？"
        if choice == 2:
            return "亲亲，" + text.removeprefix("亲，")
        sentences = re.split(r"(?<=[，。！~])", text)
        return "".join(sentences[:-1]) if len(sentences) > 2 else text + " 😊"

    def close(self, conv: _Conv, *, after: tuple[float, float] = (60, 900)) -> None:
        at = self._tick(conv, *after)
        conv.status = ConversationStatus.closed
        conv.closed_at = at
        self._system(conv, at, "conversations.system.closed")

    def rate(self, conv: _Conv, mood: str, *, chance: float = 0.6) -> None:
        if conv.closed_at is None or self.rng.random() >= chance:
            return
        rating = self.rng.choices((1, 2, 3, 4, 5), weights=_RATINGS[mood])[0]
        comment = self.rng.choice(_COMMENTS[rating]) if self.rng.random() < 0.3 else ""
        conv.rating = (rating, comment)

    # ---- kinds of conversation -----------------------------------------------------------------

    async def bot_chat(self, conv: _Conv, script: Script) -> None:
        """Answered by the bot: maybe a greeting, one or two questions, maybe thanks."""
        rng = self.rng
        conv.topic = script.title
        if not conv.messages and rng.random() < 0.3:
            await self.customer(conv, rng.choice(_GREETINGS))
        order = None
        if self.uses_order(script) and rng.random() < 0.25:
            order = self.order_for(conv.customer_id)
        result = await self.customer(conv, self.question(script, with_order=order))
        if result is not None and result.needs_order:
            order = self.order_for(conv.customer_id)
            if order is not None:
                await self.customer(conv, order.order_no)
        if conv.status == ConversationStatus.bot and rng.random() < 0.3:
            await self.customer(conv, self.question(self.pick_script()), gap=(30, 120))
        if conv.status == ConversationStatus.bot and rng.random() < 0.5:
            await self.customer(conv, rng.choice(_THANKS))
        if conv.status != ConversationStatus.bot:  # the bot handed it over after all
            agent = self.agent()
            self.accept(conv, agent)
            await self.reply_from_script(conv, agent, intended=script.title)
            self.close(conv)
            self.rate(conv, "agent")
            return
        self.close(conv, after=(120, 1200))
        self.rate(conv, "bot", chance=0.55)

    async def person_chat(self, conv: _Conv, script: Script, how: str) -> None:
        """Handed to an agent: the customer asks for a person (`request`), is upset (`angry`),
        or asks for one straight away (`direct`)."""
        rng = self.rng
        conv.topic = script.title
        agent = self.agent()
        if how == "request":
            await self.customer(conv, self.question(script))
            if conv.status == ConversationStatus.bot:
                await self.customer(conv, rng.choice(_ASK_PERSON), gap=(10, 60))
        elif how == "angry":
            await self.customer(conv, rng.choice(_ANGRY))
            if conv.status == ConversationStatus.bot:
                await self.customer(conv, rng.choice(_ASK_PERSON), gap=(5, 30))
        else:
            await self.customer(conv, rng.choice(_ASK_PERSON))
        self.accept(conv, agent)
        if how == "angry":
            await self.reply_from_script(conv, agent, gap=(15, 60))  # calming first
            await self.customer(conv, self.question(script), gap=(30, 120))
        else:  # the agent needs the question: the assist panel reads the latest message
            await self.customer(conv, self.question(script), gap=(5, 40))
        sent = await self.reply_from_script(conv, agent, intended=script.title)
        index = max(i for i, m in enumerate(conv.messages) if m.sender == SenderType.customer)
        proposable = sent is not None and not bot.wants_person(conv.messages[index].body)
        if proposable and rng.random() < 0.25:
            conv.proposal = (ProposalKind.new_variant, index, sent, "", "")
        if rng.random() < 0.6:
            await self.customer(conv, rng.choice(_THANKS), gap=(20, 120))
            if rng.random() < 0.5:
                await self.reply_from_script(conv, agent, gap=(5, 30))
            else:
                self.say(conv, agent, rng.choice(_AGENT_BYE), gap=(5, 30))
        self.close(conv)
        self.rate(conv, "angry" if how == "angry" else "agent", chance=0.65)

    async def unanswered_chat(self, conv: _Conv, topic: _Topic) -> None:
        """A question the library has no answer for: the bot does not understand; the customer
        rephrases (the bot hands over), asks for a person, or gives up."""
        rng = self.rng
        conv.topic = topic.title
        wordings = list(topic.questions)
        rng.shuffle(wordings)
        await self.customer(conv, self.edit(wordings[0]))
        if conv.status == ConversationStatus.bot:
            roll = rng.random()
            if roll < 0.5:
                await self.customer(conv, self.edit(wordings[1]), gap=(10, 50))
            elif roll < 0.75:
                await self.customer(conv, rng.choice(_ASK_PERSON), gap=(10, 50))
            # else the customer just leaves (a typed 好吧 would count as another miss)
        if conv.status == ConversationStatus.bot:
            self.close(conv, after=(300, 1800))
            self.rate(conv, "poor", chance=0.5)
            return
        agent = self.agent()
        self.accept(conv, agent)
        self.say(conv, agent, topic.answer)
        if rng.random() < 0.6:
            await self.customer(conv, rng.choice(_THANKS), gap=(20, 120))
            self.say(conv, agent, rng.choice(_AGENT_BYE), gap=(5, 30))
        first = next(i for i, m in enumerate(conv.messages) if m.sender == SenderType.customer)
        conv.proposal = (ProposalKind.new_script, first, None, topic.title, topic.answer)
        self.close(conv)
        self.rate(conv, "agent", chance=0.6)

    async def mail_or_call(self, conv: _Conv, script: Script) -> None:
        """Email and phone go straight to the agent queue; the agent answers in that channel's
        wording from the assist panel."""
        rng = self.rng
        conv.topic = script.title
        conv.status = ConversationStatus.queued
        order = self.order_for(conv.customer_id)
        text = self.question(script)
        if conv.channel == "email":
            name = "您好，" if rng.random() < 0.5 else ""
            ref = f"订单号 {order.order_no}。" if order is not None and rng.random() < 0.6 else ""
            text = f"{name}{text.rstrip('？?。~')}？{ref}麻烦尽快回复，谢谢。"
        conv.messages.append(_Msg(conv.start, SenderType.customer, text))
        conv.queued_at = conv.start
        conv.handoff_reason = None
        if order is not None:
            conv.order_id = order.id
        agent = self.agent()
        wait = (1800, 4 * 3600) if conv.channel == "email" else (10, 60)
        self.accept(conv, agent, wait=wait)
        await self.reply_from_script(conv, agent, intended=script.title, gap=(60, 300))
        self.close(conv, after=(60, 600))
        self.rate(conv, "agent", chance=0.4)

    # ---- the whole history ---------------------------------------------------------------------

    async def run(self) -> None:
        rng = self.rng
        ab_script = self.by_title[AB_TITLE]
        plans: list[str] = []
        for kind, n in MIX.items():
            plans += [kind] * n
        plans += ["email"] * N_EMAIL + ["phone"] * N_PHONE
        rng.shuffle(plans)
        with_orders = [c for c, orders in self.customers.items() if orders]
        # Both A/B sides get customers: the variant is a stable hash of (script, customer).
        ab_sides: dict[str, list[int]] = {"A": [], "B": []}
        library = await self.registry.library(self.session, self.shop_id)
        published = library.scripts[ab_script.id]
        for cid in with_orders:
            ab_sides[published.choose("im", cid)[0]].append(cid)
        unanswered_today = 0
        topic_cycle = list(_UNANSWERED) * 4
        rng.shuffle(topic_cycle)
        comeback_candidates: list[_Conv] = []
        ab_comebacks: list[_Conv] = []
        ab_seen = {"A": 0, "B": 0}
        for n, kind in enumerate(plans):
            if kind == "ab":
                side = "AB"[n % 2]
                at = self.moment(after=self.ab_started + dt.timedelta(hours=1))
                conv = self.open(self.customer_at(at, ab_sides[side] or with_orders), at, "ab")
                await self.bot_chat(conv, ab_script)
                conv.ab_variant = next(
                    (e.variant for e in conv.events if e.script_id == ab_script.id), None
                )
                if conv.rating is not None and conv.ab_variant is not None:
                    # Re-rated on the A/B side's own distribution (B reads a little better).
                    mood = "ab_b" if conv.ab_variant == "B" else "ab_a"
                    rating = rng.choices((1, 2, 3, 4, 5), weights=_RATINGS[mood])[0]
                    conv.rating = (rating, rng.choice(_COMMENTS[rating]) if conv.rating[1] else "")
                # B's wording leaves fewer customers coming back to ask again (1 in 3 for A,
                # 1 in 6 for B).
                if conv.ab_variant is not None:
                    ab_seen[conv.ab_variant] += 1
                    if ab_seen[conv.ab_variant] % (6 if conv.ab_variant == "B" else 3) == 2:
                        ab_comebacks.append(conv)
                continue
            if kind == "unanswered":
                # Some today: the unanswered page opens on today.
                day_back = 0 if unanswered_today < 6 else None
                unanswered_today += day_back == 0
                at = self.moment(day_back=day_back)
                conv = self.open(self.customer_at(at, with_orders), at, kind)
                await self.unanswered_chat(conv, topic_cycle.pop())
                continue
            at = self.moment()
            conv = self.open(self.customer_at(at, with_orders), at, kind)
            if kind in ("email", "phone"):
                conv.channel = kind
                await self.mail_or_call(conv, self.pick_script())
            elif kind == "bot":
                await self.bot_chat(conv, self.pick_script())
                comeback_candidates.append(conv)
            else:
                script = self.pick_script()
                if kind == "angry":
                    script = self.by_title[rng.choice(_COMPLAINTS)]
                await self.person_chat(conv, script, kind)
                comeback_candidates.append(conv)
        await self.comebacks(ab_comebacks, certain=True)
        await self.comebacks(comeback_candidates, certain=False)

    async def comebacks(self, candidates: list[_Conv], *, certain: bool) -> None:
        """Customers who come back within 24 h about the same thing (so it was not resolved):
        all `certain` candidates that fit, else about a third, at most `MAX_COMEBACKS` in all."""
        rng = self.rng
        gap = dt.timedelta(hours=REOPEN_GAP_HOURS)
        for first in candidates:
            if self.comeback_count >= MAX_COMEBACKS:
                break
            if first.closed_at is None or (not certain and rng.random() < 0.65):
                continue
            others = [s for s in self.starts[first.customer_id] if s != first.start]
            tries = [first.closed_at + dt.timedelta(hours=rng.uniform(0.5, 20)) for _ in range(5)]
            fitting = [
                t
                for t in tries
                if t <= self._latest_start() and all(abs(s - t) > gap for s in others)
            ]
            if not fitting:
                continue
            at = fitting[0]
            self.comeback_count += 1
            if first.rating is not None:
                rating = rng.choices((1, 2, 3, 4, 5), weights=_RATINGS["poor"])[0]
                first.rating = (rating, "")
            conv = self.open(first.customer_id, at, "comeback")
            script = self.by_title[first.topic]
            if first.topic == AB_TITLE:
                script = self.by_title["催发货"]
            await self.customer(conv, rng.choice(_COMEBACK))
            if conv.status == ConversationStatus.bot and rng.random() < 0.5:
                await self.bot_chat(conv, script)
            else:
                await self.person_chat(conv, script, "request")


async def _publish_b_wording(
    session: AsyncSession, *, script: Script, supervisor: User
) -> ScriptAbTest:
    """The supervisor writes a B wording, publishes it and starts a 50 % test, through the
    services (audited, versioned); the caller backdates it."""
    actor = actor_for(supervisor)
    await knowledge.update_script(
        session, script=script, actor=actor, answers={("im", "B"): AB_B_WORDING}
    )
    await knowledge.publish_script(
        session, script=script, actor=actor, note="A/B 测试：更口语的发货说明"
    )
    return await abtest.start_test(session, script=script, actor=actor, split=0.5)


async def seed_history(
    session: AsyncSession,
    *,
    shop_id: int,
    rng: random.Random,
    now: dt.datetime,
    registry: BotRegistry | None = None,
) -> HistorySummary:
    """Seeds the demo shop's last two weeks (see the module docstring). The shop must have
    been seeded by `seed_demo_shop` (customers, orders, the library, the staff)."""
    started = time.perf_counter()
    registry = registry or BotRegistry(None)
    scripts = list(
        await session.scalars(select(Script).where(Script.shop_id == shop_id).order_by(Script.id))
    )
    by_title = {s.title: s for s in scripts}
    users = list(
        await session.scalars(select(User).where(User.shop_id == shop_id).order_by(User.id))
    )
    supervisor = next(u for u in users if u.role == Role.supervisor)
    agent_users = [u for u in users if u.role == Role.agent] + [supervisor]
    orders = await session.scalars(select(Order).where(Order.shop_id == shop_id).order_by(Order.id))
    customers: dict[int, list[Order]] = {
        cid: []
        for cid in await session.scalars(select(Customer.id).where(Customer.shop_id == shop_id))
    }
    for order in orders:
        customers[order.customer_id].append(order)

    # The A/B test goes live before the bot is trained, so the matcher is built once.
    ab_script = by_title[AB_TITLE]
    test = await _publish_b_wording(session, script=ab_script, supervisor=supervisor)
    ab_started = now - dt.timedelta(days=AB_STARTED_DAYS_AGO, hours=rng.uniform(0, 3))

    sim = _Simulator(
        session,
        shop_id=shop_id,
        registry=registry,
        rng=rng,
        now=now,
        scripts=scripts,
        customers=customers,
        agents=[_Staff(u.id, u.display_name) for u in agent_users],
        ab_script_id=ab_script.id,
        ab_started=ab_started,
    )
    await sim.run()
    convs = sorted(sim.conversations, key=lambda c: c.start)

    conv_ids = list(
        await session.scalars(
            insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
            [
                {
                    "shop_id": shop_id,
                    "customer_id": c.customer_id,
                    "channel": c.channel,
                    "status": c.status,
                    "priority": c.priority,
                    "assignee_id": c.assignee_id,
                    "order_id": c.order_id,
                    "bot_unanswered_turns": c.turns,
                    "handoff_reason": c.handoff_reason,
                    "queued_at": c.queued_at,
                    "accepted_at": c.accepted_at,
                    "closed_at": c.closed_at,
                    "last_message_at": c.messages[-1].at,
                    "created_at": c.start,
                }
                for c in convs
            ],
        )
    )
    # Messages in time order over the whole shop, so ids grow with time as they would live.
    flat = sorted(
        ((m.at, ci, mi) for ci, c in enumerate(convs) for mi, m in enumerate(c.messages)),
        key=lambda x: x[0],
    )
    message_ids = list(
        await session.scalars(
            insert(Message).returning(Message.id, sort_by_parameter_order=True),
            [
                {
                    "conversation_id": conv_ids[ci],
                    "sender_type": convs[ci].messages[mi].sender,
                    "sender_id": convs[ci].messages[mi].sender_id,
                    "body": convs[ci].messages[mi].body,
                    "client_msg_id": convs[ci].messages[mi].client_msg_id,
                    "meta": convs[ci].messages[mi].meta,
                    "created_at": at,
                }
                for at, ci, mi in flat
            ],
        )
    )
    mid: dict[tuple[int, int], int] = {
        (ci, mi): message_ids[n] for n, (_, ci, mi) in enumerate(flat)
    }

    # Bot decisions: what bot.service.record_decision stores for each message the bot handled.
    decision_rows = [
        {
            "shop_id": shop_id,
            "conversation_id": conv_ids[ci],
            "message_id": mid[(ci, mi)],
            "script_id": d.script_id,
            "intent": d.intent,
            "confidence": float(d.confidence),
            "entities": list(d.entities),
            "emotion": dict(d.emotion),
            "answer": d.answer,
            "handoff": d.handoff,
            "handoff_reason": d.handoff_reason,
            "created_at": m.at + dt.timedelta(milliseconds=300),
        }
        for ci, c in enumerate(convs)
        for mi, m in enumerate(c.messages)
        if (d := m.decision) is not None
    ]
    if decision_rows:
        await session.execute(insert(BotDecision), decision_rows)
    event_rows = [
        {
            "shop_id": shop_id,
            "script_id": e.script_id,
            "kind": e.kind,
            "channel": e.channel,
            "variant": e.variant,
            "conversation_id": conv_ids[ci],
            "message_id": mid[(ci, e.msg)],
            "user_id": e.user_id,
            "score": e.score,
            "matched": e.matched,
            "edited": e.edited,
            "created_at": e.at,
        }
        for ci, c in enumerate(convs)
        for e in c.events
    ]
    if event_rows:
        await session.execute(insert(ScriptEventRow), event_rows)
    rating_rows = [
        {
            "shop_id": shop_id,
            "conversation_id": conv_ids[ci],
            "customer_id": c.customer_id,
            "rating": c.rating[0],
            "comment": c.rating[1],
            "created_at": c.closed_at + dt.timedelta(seconds=rng.uniform(10, 600)),
        }
        for ci, c in enumerate(convs)
        if c.rating is not None and c.closed_at is not None
    ]
    if rating_rows:
        await session.execute(insert(SurveyResponse), rating_rows)

    proposals = await _proposals(session, convs, conv_ids, mid, users, rng)
    await _backdate(
        session, shop_id=shop_id, now=now, test=test, ab_script=ab_script, at=ab_started
    )
    await session.flush()
    return HistorySummary(
        conversations=len(convs),
        messages=len(message_ids),
        bot_decisions=len(decision_rows),
        script_events=len(event_rows),
        ratings=len(rating_rows),
        proposals=proposals,
        ab_test_script=AB_TITLE,
        seconds=round(time.perf_counter() - started, 2),
    )


async def _proposals(
    session: AsyncSession,
    convs: list[_Conv],
    conv_ids: list[int],
    mid: dict[tuple[int, int], int],
    users: list[User],
    rng: random.Random,
) -> int:
    """Up to two new-script and two new-variant proposals, through the assist service (it
    checks the message and audits), backdated to when the agent made them."""
    staff = {u.id: u for u in users}
    wanted = {ProposalKind.new_script: 2, ProposalKind.new_variant: 2}
    titles: set[str] = set()
    made = 0
    for ci, c in sorted(enumerate(convs), key=lambda x: -x[1].start.timestamp()):
        if c.proposal is None or c.assignee_id is None or c.closed_at is None:
            continue
        kind, index, script_id, title, answer = c.proposal
        if wanted[kind] == 0 or (title and title in titles):
            continue
        conversation = await session.get(Conversation, conv_ids[ci])
        assert conversation is not None
        user = staff[c.assignee_id]
        try:
            proposal = await assist.create_proposal(
                session,
                user=user,
                actor=actor_for(user),
                conversation=conversation,
                message_id=mid[(ci, index)],
                kind=kind,
                script_id=script_id,
                title=title,
                answer=answer,
            )
        except DomainError:  # e.g. the wording already is a variant: the agent would not propose
            continue
        at = c.closed_at - dt.timedelta(seconds=rng.uniform(5, 40))
        await session.execute(
            update(ScriptProposal).where(ScriptProposal.id == proposal.id).values(created_at=at)
        )
        await _backdate_audit(session, "script_proposal", proposal.id, at)
        wanted[kind] -= 1
        titles.add(title)
        made += 1
    return made


async def _backdate_audit(
    session: AsyncSession, entity: str, entity_id: int, at: dt.datetime
) -> None:
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.entity_type == entity, AuditEntry.entity_id == str(entity_id))
        .values(created_at=at)
    )


async def _backdate(
    session: AsyncSession,
    *,
    shop_id: int,
    now: dt.datetime,
    test: ScriptAbTest,
    ab_script: Script,
    at: dt.datetime,
) -> None:
    """The library was published before the history began, and the B wording just before the
    test started: the script pages and the A/B report then read consistently."""
    library_at = now - dt.timedelta(days=30)
    script_ids = select(Script.id).where(Script.shop_id == shop_id).scalar_subquery()
    await session.execute(
        update(Script)
        .where(Script.shop_id == shop_id)
        .values(created_at=library_at, updated_at=library_at, published_at=library_at)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ScriptVersion)
        .where(ScriptVersion.script_id.in_(script_ids), ScriptVersion.version == 1)
        .values(created_at=library_at)
    )
    b_published = at - dt.timedelta(minutes=50)
    await session.execute(
        update(ScriptVersion)
        .where(ScriptVersion.script_id == ab_script.id, ScriptVersion.version > 1)
        .values(created_at=b_published)
    )
    await session.execute(
        update(Script)
        .where(Script.id == ab_script.id)
        .values(updated_at=b_published, published_at=at)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ScriptAbTest)
        .where(ScriptAbTest.id == test.id)
        .values(created_at=at)
        .execution_options(synchronize_session=False)
    )
    await _backdate_audit(session, "script", ab_script.id, b_published)
    await _backdate_audit(session, "script_ab_test", test.id, at)
    # The ORM copies are stale after the UPDATEs above.
    await session.refresh(test)
    await session.refresh(ab_script)
