"""Two weeks of past activity for the demo shop, so a first look at the workspace history, the
customer 360° panel and the insights pages shows real-looking numbers.

Everything goes through the product's own services with the clock (`xiaoer.clock`) set to the
moment each step happens: customers write through `conversations.service` (the real bot decides,
answers, hands over and records its decisions and script events), agents accept, take
suggestions from the assist panel (`assist.suggestions`, `assist.search`), insert, reply and
close through the staff service functions, customers rate through `surveys.service`, the B
wording is published and its A/B test started through the library and insights services, and
proposals come from `assist.service`. So the rows are exactly what the product writes, stamped
in the past.

Conversations are played one at a time in the order they start (a heap of start times); each
runs from its first message to its close before the next starts, so a customer never has two
open at once. Customers who come back within a day are scheduled when the first conversation
closes. Tickets are not seeded: `tickets.service.create_ticket` numbers a ticket by today's
date, which a backdated ticket would contradict. Realtime frames queued while seeding are
dropped: nobody is watching the past.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xiaoer import clock, events
from xiaoer.assist import search, suggestions
from xiaoer.assist import service as assist
from xiaoer.audit.service import Actor
from xiaoer.auth.models import Role, User
from xiaoer.auth.service import actor_for
from xiaoer.bot import service as bot
from xiaoer.bot.engine import BotRegistry
from xiaoer.bot.models import BotDecision
from xiaoer.commerce.models import Order
from xiaoer.commerce.service import ORDER_VARIABLES
from xiaoer.conversations import service as conversations
from xiaoer.conversations.models import Conversation, ConversationStatus, Message
from xiaoer.customers.models import Customer
from xiaoer.errors import DomainError
from xiaoer.insights import abtest
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.library import ab_bucket
from xiaoer.knowledge.models import ProposalKind, Script, ScriptAbTest, ScriptEvent
from xiaoer.surveys import service as surveys
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


AB_SPLIT = 0.5
# Minutes between publishing the B wording and starting its test.
AB_PUBLISHED_BEFORE = dt.timedelta(minutes=50)
# Of the conversations that may be followed by a comeback, the share that is (the A/B ones
# follow their own rule, see `_Simulator.finish`).
COMEBACK_CHANCE = 0.1
EMAIL_ROOM = dt.timedelta(hours=6)  # the longest an email conversation takes, with its rating


@dataclass(frozen=True)
class _Ask:
    """A script as customers ask it."""

    id: int
    title: str
    questions: tuple[str, ...]
    uses_order: bool


@dataclass(frozen=True)
class _Proposal:
    kind: ProposalKind
    message_id: int
    script_id: int | None
    title: str = ""
    answer: str = ""


@dataclass
class _Chat:
    """One conversation being played: its row once the first message opened it, and what the
    simulation remembers about it."""

    customer_id: int
    start: dt.datetime
    kind: str
    channel: str = "webchat"
    t: dt.datetime = field(init=False)  # when its latest step happened
    row: Conversation | None = None
    asked: list[Message] = field(default_factory=list)  # the customer's messages
    agent: User | None = None
    topic: str = ""  # the script title or unanswered topic, for a comeback
    ab_variant: str | None = None
    proposal: _Proposal | None = None
    closed_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.t = self.start

    @property
    def conversation(self) -> Conversation:
        assert self.row is not None, "the customer has not written yet"
        return self.row

    @property
    def with_bot(self) -> bool:
        return self.row is None or self.row.status == ConversationStatus.bot


@dataclass(frozen=True)
class _Offer:
    """A script an agent can insert: from the suggestions or from the search."""

    script_id: int
    title: str
    text: str
    variant: str


Action = Callable[[], Awaitable[None]]


class _Simulator:
    def __init__(
        self,
        session: AsyncSession,
        *,
        shop_id: int,
        registry: BotRegistry,
        rng: random.Random,
        now: dt.datetime,
        frozen: clock.FrozenClock,
        scripts: list[Script],
        customers: dict[int, list[Order]],
        agents: list[User],
        supervisor: User,
        ab_started: dt.datetime,
    ) -> None:
        self.session = session
        self.shop_id = shop_id
        self.registry = registry
        self.rng = rng
        self.now = now
        self.clock = frozen
        self.scripts = {s.title: s for s in scripts}
        self.asks = {
            s.title: _Ask(
                s.id,
                s.title,
                tuple(q.text for q in s.questions),
                any(v in ORDER_VARIABLES for v in bot.template_variables(s.answer)),
            )
            for s in scripts
        }
        self.customers = customers
        self.agents = agents
        self.supervisor = supervisor
        self.ab_script = self.scripts[AB_TITLE]
        self.ab_started = ab_started
        self.today = now.astimezone(SHOP_TZ).date()
        self.starts: dict[int, list[dt.datetime]] = {c: [] for c in customers}
        self.chats: list[_Chat] = []
        self.test: ScriptAbTest | None = None
        self.comebacks = 0
        self.ab_seen = {"A": 0, "B": 0}
        # Statistics reloaded for every suggestion: seeding covers days within seconds.
        self.stats = suggestions.SuccessCache(ttl=0)
        self._agenda: list[tuple[dt.datetime, int, Action]] = []
        self._sequence = 0
        asked = [self.asks[s.title] for s in scripts if s.bot_enabled and s.title not in _NOT_ASKED]
        self.asked = asked
        self.asked_weights = [_POPULAR.get(a.title, 1) for a in asked]

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

    def customer_at(self, at: dt.datetime, pool: list[int]) -> int:
        """A customer without another conversation within a day of `at` (so only planned
        comebacks count against resolution, and nobody has two conversations open at once)."""
        gap = dt.timedelta(hours=REOPEN_GAP_HOURS)

        def free(cid: int) -> bool:
            return all(abs(s - at) > gap for s in self.starts[cid])

        for _ in range(60):
            cid = self.rng.choice(pool)
            if free(cid):
                break
        else:
            cid = next((c for c in [*pool, *self.customers] if free(c)), cid)
        self.starts[cid].append(at)
        return cid

    def agent(self) -> User:
        return self.rng.choices(self.agents, weights=[5, 4, 3, 1][: len(self.agents)])[0]

    async def at(self, when: dt.datetime) -> None:
        """Move the clock to `when`. What is pending is flushed first: model defaults such as
        `created_at` read the clock when the row is inserted, not when it was added."""
        await self.session.flush()
        self.clock.set(when)

    async def step(self, chat: _Chat, low: float, high: float) -> dt.datetime:
        """The chat's next moment, `low`–`high` seconds after its last; the clock follows."""
        chat.t += dt.timedelta(seconds=self.rng.uniform(low, high))
        await self.at(chat.t)
        return chat.t

    def schedule(self, at: dt.datetime, action: Action) -> None:
        self._sequence += 1
        heapq.heappush(self._agenda, (at, self._sequence, action))

    def plan(self, at: dt.datetime, chat: _Chat, play: Callable[[_Chat], Awaitable[None]]) -> None:
        self.chats.append(chat)
        self.schedule(at, functools.partial(play, chat))

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

    def question(self, script: _Ask, *, with_order: Order | None = None) -> str:
        text = self.edit(self.rng.choice(script.questions))
        if with_order is not None:
            if self.rng.random() < 0.5:
                return f"{with_order.order_no} {text}"
            return f"订单号{with_order.order_no}，{text}"
        return text

    def pick_script(self) -> _Ask:
        return self.rng.choices(self.asked, weights=self.asked_weights)[0]

    def order_for(self, customer_id: int) -> Order | None:
        orders = self.customers[customer_id]
        return self.rng.choice(orders) if orders else None

    def agent_edit(self, text: str) -> str:
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

    # ---- what customers and agents do ----------------------------------------------------------

    async def customer(
        self,
        chat: _Chat,
        text: str,
        *,
        gap: tuple[float, float] = (15, 80),
        wants_human: bool = False,
    ) -> bot.BotResult | None:
        """The customer writes; the conversations service stores it and, while the conversation
        is with the bot, lets the bot answer or hand over. Returns the bot's decision."""
        if chat.asked:
            await self.step(chat, *gap)
        else:
            await self.at(chat.t)
        plan = await conversations.prepare_customer_message(
            self.session,
            shop_id=self.shop_id,
            customer_id=chat.customer_id,
            client_msg_id=f"h{self.rng.getrandbits(60):x}",
            body=text,
            bot_registry=self.registry,
            wants_human=wants_human,
        )
        post = await conversations.store_customer_message(self.session, plan=plan)
        chat.row = post.conversation
        chat.asked.append(post.message)
        decision: bot.BotResult | None = plan.decision
        if (
            decision is not None
            and decision.script_id == self.ab_script.id
            and not (decision.handoff or decision.needs_order)
        ):
            chat.ab_variant = chat.ab_variant or decision.variant
        return decision

    async def accept(
        self, chat: _Chat, agent: User, *, wait: tuple[float, float] = (20, 240)
    ) -> None:
        if chat.with_bot:  # only a queued conversation is the agents' to take
            await self.customer(chat, self.rng.choice(_ASK_PERSON), gap=(5, 20))
        await self.step(chat, *wait)
        await conversations.accept_conversation(
            self.session, conversation=chat.conversation, user=agent, actor=actor_for(agent)
        )
        chat.agent = agent

    async def send(
        self,
        chat: _Chat,
        texts: list[str],
        *,
        script_id: int | None = None,
        inserted_text: str | None = None,
    ) -> Message | None:
        """The agent's reply through the staff service: the first of `texts` the compliance
        check lets through (an agent whose edit is blocked sends the script as it was)."""
        assert chat.agent is not None
        for text in dict.fromkeys(texts):
            try:
                return await conversations.post_staff_message(
                    self.session,
                    conversation=chat.conversation,
                    user=chat.agent,
                    body=text,
                    script_id=script_id,
                    inserted_text=inserted_text,
                )
            except assist.ReplyBlocked:
                continue
        return None

    async def say(self, chat: _Chat, text: str, *, gap: tuple[float, float] = (30, 120)) -> None:
        await self.step(chat, *gap)
        await self.send(chat, [text])

    async def offers(self, chat: _Chat, intended: str | None) -> tuple[list[_Offer], _Offer | None]:
        """The assist panel's suggestions for the latest customer message (recorded as shown),
        and the intended script: among them, else found by its title in the script search."""
        shown = [
            _Offer(
                r.suggestion.script_id, r.suggestion.title, r.suggestion.text, r.suggestion.variant
            )
            for r in await suggestions.ranked_suggestions(
                self.session,
                registry=self.registry,
                conversation=chat.conversation,
                cache=self.stats,
            )
        ]
        if not intended:
            return shown, None
        found = next((o for o in shown if o.title == intended), None)
        if found is None and shown:
            hits = await search.search_scripts(
                self.session,
                registry=self.registry,
                conversation=chat.conversation,
                shop_id=self.shop_id,
                query=intended,
                limit=3,
            )
            found = next(
                (
                    _Offer(int(h["script_id"]), str(h["title"]), str(h["text"]), str(h["variant"]))
                    for h in hits
                    if h["title"] == intended
                ),
                None,
            )
        return shown, found

    async def reply_from_script(
        self, chat: _Chat, *, intended: str | None = None, gap: tuple[float, float] = (30, 120)
    ) -> int | None:
        """The agent answers the latest customer message from the assist panel: the top three
        suggestions are shown, one (or the intended script, searched for) is inserted and sent,
        sometimes edited. Returns the script sent."""
        rng = self.rng
        shown_at = chat.t + dt.timedelta(seconds=rng.uniform(1, 5))
        await self.at(shown_at)
        shown, chosen = await self.offers(chat, intended)
        if not shown:
            return None
        if chosen is None:
            chosen = shown[0] if rng.random() < 0.8 or len(shown) < 2 else shown[1]
        text = chosen.text
        edited = rng.random() < 0.4
        if _PLACEHOLDER.search(text):
            edited = True
            text = _PLACEHOLDER.sub("", text)
        if edited:
            text = self.agent_edit(text)
        typing = dt.timedelta(seconds=rng.uniform(4, 25) if edited else 3)
        chat.t = max(
            chat.t + dt.timedelta(seconds=rng.uniform(*gap)),
            shown_at + typing + dt.timedelta(seconds=1),
        )
        await self.at(chat.t - typing)
        assert chat.agent is not None
        await assist.record_inserted(
            self.session,
            conversation=chat.conversation,
            user=chat.agent,
            script_id=chosen.script_id,
        )
        await self.at(chat.t)
        sent = await self.send(
            chat,
            [text, _PLACEHOLDER.sub("", chosen.text)],
            script_id=chosen.script_id,
            inserted_text=chosen.text,
        )
        if sent is None:
            return None
        if chosen.script_id == self.ab_script.id:
            chat.ab_variant = chat.ab_variant or chosen.variant
        return chosen.script_id

    async def close(self, chat: _Chat, *, after: tuple[float, float]) -> None:
        """The agent closes; a conversation the bot kept is closed by the system."""
        await self.step(chat, *after)
        user = chat.agent or self.supervisor
        actor = actor_for(chat.agent) if chat.agent else Actor.system(self.shop_id)
        await conversations.close_conversation(
            self.session, conversation=chat.conversation, user=user, actor=actor
        )
        chat.closed_at = chat.t

    async def finish(
        self,
        chat: _Chat,
        mood: str,
        *,
        chance: float,
        after: tuple[float, float] = (60, 900),
    ) -> None:
        """Close, maybe plan the customer's comeback, maybe rate (poorly when they come back:
        it was not resolved)."""
        rng = self.rng
        await self.close(chat, after=after)
        certain = False
        if chat.kind == "ab" and chat.ab_variant is not None:
            mood = "ab_b" if chat.ab_variant == "B" else "ab_a"
            # B's wording leaves fewer customers coming back to ask again (1 in 3 for A,
            # 1 in 6 for B).
            self.ab_seen[chat.ab_variant] += 1
            certain = self.ab_seen[chat.ab_variant] % (6 if chat.ab_variant == "B" else 3) == 2
        maybe = chat.kind in ("bot", "request", "angry", "direct")
        back = (certain or (maybe and rng.random() < COMEBACK_CHANCE)) and self.comeback(chat)
        if rng.random() >= chance:
            return
        rating = rng.choices((1, 2, 3, 4, 5), weights=_RATINGS["poor" if back else mood])[0]
        comment = rng.choice(_COMMENTS[rating]) if not back and rng.random() < 0.3 else ""
        assert chat.closed_at is not None
        await self.at(chat.closed_at + dt.timedelta(seconds=rng.uniform(10, 600)))
        await surveys.record_rating(
            self.session, conversation=chat.conversation, rating=rating, comment=comment
        )

    def comeback(self, first: _Chat) -> bool:
        """The customer comes back within 24 h about the same thing, if that fits their other
        conversations and the two weeks (at most `MAX_COMEBACKS` in all)."""
        if self.comebacks >= MAX_COMEBACKS or first.closed_at is None:
            return False
        gap = dt.timedelta(hours=REOPEN_GAP_HOURS)
        others = [s for s in self.starts[first.customer_id] if s != first.start]
        tries = [first.closed_at + dt.timedelta(hours=self.rng.uniform(0.5, 20)) for _ in range(5)]
        at = next(
            (
                t
                for t in tries
                if t <= self._latest_start() and all(abs(s - t) > gap for s in others)
            ),
            None,
        )
        if at is None:
            return False
        self.comebacks += 1
        self.starts[first.customer_id].append(at)
        topic = "催发货" if first.topic == AB_TITLE else first.topic
        self.plan(
            at,
            _Chat(first.customer_id, at, "comeback"),
            functools.partial(self.come_back, script=self.asks[topic]),
        )
        return True

    # ---- kinds of conversation -----------------------------------------------------------------

    async def bot_chat(self, chat: _Chat, script: _Ask) -> None:
        """Answered by the bot: maybe a greeting, one or two questions, maybe thanks."""
        rng = self.rng
        chat.topic = script.title
        if not chat.asked and rng.random() < 0.3:
            await self.customer(chat, rng.choice(_GREETINGS))
        order = None
        if script.uses_order and rng.random() < 0.25:
            order = self.order_for(chat.customer_id)
        result = await self.customer(chat, self.question(script, with_order=order))
        if result is not None and result.needs_order:
            order = self.order_for(chat.customer_id)
            if order is not None:
                await self.customer(chat, order.order_no)
        if chat.with_bot and rng.random() < 0.3:
            await self.customer(chat, self.question(self.pick_script()), gap=(30, 120))
        if chat.with_bot and rng.random() < 0.5:
            await self.customer(chat, rng.choice(_THANKS))
        if not chat.with_bot:  # the bot handed it over after all
            await self.accept(chat, self.agent())
            await self.reply_from_script(chat, intended=script.title)
            await self.finish(chat, "agent", chance=0.6)
            return
        await self.finish(chat, "bot", chance=0.55, after=(120, 1200))

    async def person_chat(self, chat: _Chat, script: _Ask, how: str) -> None:
        """Handed to an agent: the customer asks for a person (`request`), is upset (`angry`),
        or asks for one straight away (`direct`)."""
        rng = self.rng
        chat.topic = script.title
        agent = self.agent()
        if how == "request":
            await self.customer(chat, self.question(script))
            if chat.with_bot:
                await self.customer(chat, rng.choice(_ASK_PERSON), gap=(10, 60))
        elif how == "angry":
            await self.customer(chat, rng.choice(_ANGRY))
            if chat.with_bot:
                await self.customer(chat, rng.choice(_ASK_PERSON), gap=(5, 30))
        else:
            await self.customer(chat, rng.choice(_ASK_PERSON))
        await self.accept(chat, agent)
        if how == "angry":
            await self.reply_from_script(chat, gap=(15, 60))  # calming first
            await self.customer(chat, self.question(script), gap=(30, 120))
        else:  # the agent needs the question: the assist panel reads the latest message
            await self.customer(chat, self.question(script), gap=(5, 40))
        sent = await self.reply_from_script(chat, intended=script.title)
        asked = chat.asked[-1]
        if sent is not None and not bot.wants_person(asked.body) and rng.random() < 0.25:
            chat.proposal = _Proposal(ProposalKind.new_variant, asked.id, sent)
        if rng.random() < 0.6:
            await self.customer(chat, rng.choice(_THANKS), gap=(20, 120))
            if rng.random() < 0.5:
                await self.reply_from_script(chat, gap=(5, 30))
            else:
                await self.say(chat, rng.choice(_AGENT_BYE), gap=(5, 30))
        await self.finish(chat, "angry" if how == "angry" else "agent", chance=0.65)

    async def unanswered_chat(self, chat: _Chat, topic: _Topic) -> None:
        """A question the library has no answer for: the bot does not understand; the customer
        rephrases (the bot hands over), asks for a person, or gives up."""
        rng = self.rng
        chat.topic = topic.title
        wordings = list(topic.questions)
        rng.shuffle(wordings)
        await self.customer(chat, self.edit(wordings[0]))
        if chat.with_bot:
            roll = rng.random()
            if roll < 0.5:
                await self.customer(chat, self.edit(wordings[1]), gap=(10, 50))
            elif roll < 0.75:
                await self.customer(chat, rng.choice(_ASK_PERSON), gap=(10, 50))
            # else the customer just leaves (a typed 好吧 would count as another miss)
        if chat.with_bot:
            await self.finish(chat, "poor", chance=0.5, after=(300, 1800))
            return
        await self.accept(chat, self.agent())
        await self.say(chat, topic.answer)
        if rng.random() < 0.6:
            await self.customer(chat, rng.choice(_THANKS), gap=(20, 120))
            await self.say(chat, rng.choice(_AGENT_BYE), gap=(5, 30))
        chat.proposal = _Proposal(
            ProposalKind.new_script, chat.asked[0].id, None, topic.title, topic.answer
        )
        await self.finish(chat, "agent", chance=0.6)

    async def mail_or_call(self, chat: _Chat, script: _Ask) -> None:
        """Email and phone have no bot: the conversation opens in its channel and goes straight
        to the agent queue; the agent answers in that channel's wording from the assist panel."""
        rng = self.rng
        chat.topic = script.title
        order = self.order_for(chat.customer_id)
        text = self.question(script)
        if chat.channel == "email":
            name = "您好，" if rng.random() < 0.5 else ""
            ref = f"订单号 {order.order_no}。" if order is not None and rng.random() < 0.6 else ""
            text = f"{name}{text.rstrip('？?。~')}？{ref}麻烦尽快回复，谢谢。"
        await self.at(chat.t)
        await conversations.conversation_for_customer(
            self.session, shop_id=self.shop_id, customer_id=chat.customer_id, channel=chat.channel
        )
        await self.customer(chat, text, wants_human=True)
        wait = (1800, 4 * 3600) if chat.channel == "email" else (10, 60)
        await self.accept(chat, self.agent(), wait=wait)
        await self.reply_from_script(chat, intended=script.title, gap=(60, 300))
        await self.finish(chat, "agent", chance=0.4, after=(60, 600))

    async def come_back(self, chat: _Chat, *, script: _Ask) -> None:
        await self.customer(chat, self.rng.choice(_COMEBACK))
        if chat.with_bot and self.rng.random() < 0.5:
            await self.bot_chat(chat, script)
        else:
            await self.person_chat(chat, script, "request")

    # ---- the library's side: the B wording and its test ----------------------------------------

    async def publish_b_wording(self) -> None:
        """The supervisor writes a B wording and publishes it through the library service."""
        actor = actor_for(self.supervisor)
        await knowledge.update_script(
            self.session, script=self.ab_script, actor=actor, answers={("im", "B"): AB_B_WORDING}
        )
        await knowledge.publish_script(
            self.session, script=self.ab_script, actor=actor, note="A/B 测试：更口语的发货说明"
        )

    async def start_test(self) -> None:
        self.test = await abtest.start_test(
            self.session, script=self.ab_script, actor=actor_for(self.supervisor), split=AB_SPLIT
        )

    def at_clock(self, at: dt.datetime, action: Callable[[], Awaitable[None]]) -> Action:
        async def run() -> None:
            await self.at(at)
            await action()

        return run

    # ---- the whole history ---------------------------------------------------------------------

    def plan_all(self) -> None:
        """Every conversation's start and customer, the B wording and the test on the agenda."""
        rng = self.rng
        plans: list[str] = []
        for kind, n in MIX.items():
            plans += [kind] * n
        plans += ["email"] * N_EMAIL + ["phone"] * N_PHONE
        rng.shuffle(plans)
        with_orders = [c for c, orders in self.customers.items() if orders]
        # Both A/B sides get customers: the variant is a stable hash of (script, customer).
        ab_sides: dict[str, list[int]] = {"A": [], "B": []}
        for cid in with_orders:
            ab_sides["B" if ab_bucket(self.ab_script.id, cid) < AB_SPLIT else "A"].append(cid)
        unanswered_today = 0
        topic_cycle = list(_UNANSWERED) * 4
        rng.shuffle(topic_cycle)
        ab_ask = self.asks[AB_TITLE]
        for n, kind in enumerate(plans):
            if kind == "ab":
                side = "AB"[n % 2]
                at = self.moment(after=self.ab_started + dt.timedelta(hours=1))
                cid = self.customer_at(at, ab_sides[side] or with_orders)
                self.plan(at, _Chat(cid, at, kind), functools.partial(self.bot_chat, script=ab_ask))
                continue
            if kind == "unanswered":
                # Some today: the unanswered page opens on today.
                day_back = 0 if unanswered_today < 6 else None
                unanswered_today += day_back == 0
                at = self.moment(day_back=day_back)
                chat = _Chat(self.customer_at(at, with_orders), at, kind)
                self.plan(
                    at, chat, functools.partial(self.unanswered_chat, topic=topic_cycle.pop())
                )
                continue
            at = self.moment()
            while kind == "email" and at > self.now - EMAIL_ROOM:
                at = self.moment()  # an email waits hours for an agent: done before now
            chat = _Chat(self.customer_at(at, with_orders), at, kind)
            if kind in ("email", "phone"):
                chat.channel = kind
                play = functools.partial(self.mail_or_call, script=self.pick_script())
            elif kind == "bot":
                play = functools.partial(self.bot_chat, script=self.pick_script())
            else:
                script = self.pick_script()
                if kind == "angry":
                    script = self.asks[rng.choice(_COMPLAINTS)]
                play = functools.partial(self.person_chat, script=script, how=kind)
            self.plan(at, chat, play)
        b_at = self.ab_started - AB_PUBLISHED_BEFORE
        self.schedule(b_at, self.at_clock(b_at, self.publish_b_wording))
        self.schedule(self.ab_started, self.at_clock(self.ab_started, self.start_test))

    async def run(self) -> None:
        """Plays the agenda in time order; comebacks join it as conversations close."""
        self.plan_all()
        while self._agenda:
            _, _, action = heapq.heappop(self._agenda)
            await action()

    async def proposals(self) -> int:
        """Up to two new-script and two new-variant proposals from the latest conversations that
        have one, through the assist service, made just before the agent closed."""
        wanted = {ProposalKind.new_script: 2, ProposalKind.new_variant: 2}
        titles: set[str] = set()
        made = 0
        for chat in sorted(self.chats, key=lambda c: c.start, reverse=True):
            p = chat.proposal
            if p is None or chat.agent is None or chat.closed_at is None:
                continue
            if wanted[p.kind] == 0 or (p.title and p.title in titles):
                continue
            await self.at(chat.closed_at - dt.timedelta(seconds=self.rng.uniform(5, 40)))
            try:
                await assist.create_proposal(
                    self.session,
                    user=chat.agent,
                    actor=actor_for(chat.agent),
                    conversation=chat.conversation,
                    message_id=p.message_id,
                    kind=p.kind,
                    script_id=p.script_id,
                    title=p.title,
                    answer=p.answer,
                )
            except DomainError:  # e.g. the wording already is a variant: the agent would not
                continue
            wanted[p.kind] -= 1
            titles.add(p.title)
            made += 1
        return made


async def _count(session: AsyncSession, model: type[Any], *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def seed_history(
    session: AsyncSession,
    *,
    shop_id: int,
    rng: random.Random,
    now: dt.datetime,
    registry: BotRegistry | None = None,
) -> HistorySummary:
    """Seeds the demo shop's last two weeks (see the module docstring). The shop must have
    been seeded by `seed_demo_shop` (customers, orders, the staff, and the library published
    before the two weeks began)."""
    started = time.perf_counter()
    registry = registry or BotRegistry(None)
    scripts = list(
        await session.scalars(select(Script).where(Script.shop_id == shop_id).order_by(Script.id))
    )
    users = list(
        await session.scalars(select(User).where(User.shop_id == shop_id).order_by(User.id))
    )
    supervisor = next(u for u in users if u.role == Role.supervisor)
    orders = await session.scalars(select(Order).where(Order.shop_id == shop_id).order_by(Order.id))
    customers: dict[int, list[Order]] = {
        cid: []
        for cid in await session.scalars(
            select(Customer.id).where(Customer.shop_id == shop_id).order_by(Customer.id)
        )
    }
    for order in orders:
        customers[order.customer_id].append(order)
    ab_started = now - dt.timedelta(days=AB_STARTED_DAYS_AGO, hours=rng.uniform(0, 3))

    pending = events.take_pending(session)
    with clock.frozen_at(now - dt.timedelta(days=DAYS)) as frozen:
        sim = _Simulator(
            session,
            shop_id=shop_id,
            registry=registry,
            rng=rng,
            now=now,
            frozen=frozen,
            scripts=scripts,
            customers=customers,
            agents=[u for u in users if u.role == Role.agent] + [supervisor],
            supervisor=supervisor,
            ab_started=ab_started,
        )
        await sim.run()
        proposals = await sim.proposals()
        await session.flush()
    events.discard_pending(session)  # frames about the past: nobody is watching
    for topics, frame in pending:
        events.queue_frame(session, topics, frame)

    conversation_ids = select(Conversation.id).where(Conversation.shop_id == shop_id)
    return HistorySummary(
        conversations=await _count(session, Conversation, Conversation.shop_id == shop_id),
        messages=await _count(session, Message, Message.conversation_id.in_(conversation_ids)),
        bot_decisions=await _count(session, BotDecision, BotDecision.shop_id == shop_id),
        script_events=await _count(session, ScriptEvent, ScriptEvent.shop_id == shop_id),
        ratings=await _count(session, SurveyResponse, SurveyResponse.shop_id == shop_id),
        proposals=proposals,
        ab_test_script=AB_TITLE,
        seconds=round(time.perf_counter() - started, 2),
    )
