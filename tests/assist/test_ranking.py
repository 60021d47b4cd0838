"""Ranking by match and past success, promise extraction and the pinyin index: the pure parts,
then the ranking end to end on a shop whose agents have a record with two equal scripts."""

from __future__ import annotations

from tests.assist.helpers import served_chat
from tests.conftest import in_database
from xiaoer.assist import history, search, suggestions
from xiaoer.assist.suggestions import ScriptStats, rank, shop_stats
from xiaoer.audit.service import Actor
from xiaoer.bot.service import Suggestion
from xiaoer.knowledge import service as knowledge
from xiaoer.knowledge.library import PublishedScript
from xiaoer.knowledge.models import ScriptEvent, ScriptEventKind


def suggestion(script_id: int, score: float) -> Suggestion:
    return Suggestion(script_id=script_id, title=f"s{script_id}", text="t", score=score)


def test_many_unedited_sends_outrank_an_equal_match():
    stats = shop_stats(
        {
            1: ScriptStats(suggested=40, inserted=2, sent=2, unedited=0),
            2: ScriptStats(suggested=40, inserted=30, sent=30, unedited=28),
        }
    )
    ranked = rank([suggestion(1, 0.6), suggestion(2, 0.6), suggestion(3, 0.2)], stats)
    assert [r.suggestion.script_id for r in ranked] == [2, 1, 3]
    assert ranked[0].success > ranked[1].success


def test_a_new_script_starts_at_the_shop_average_and_is_not_buried():
    stats = shop_stats(
        {
            1: ScriptStats(suggested=50, inserted=5, sent=5, unedited=1),
            2: ScriptStats(suggested=50, inserted=25, sent=25, unedited=20),
        }
    )
    new = stats.success(99)
    assert stats.success(1) < new < stats.success(2)
    # A clearly better match still wins over a proven script.
    ranked = rank([suggestion(99, 0.9), suggestion(2, 0.5)], stats)
    assert ranked[0].suggestion.script_id == 99


def test_match_decides_when_nothing_is_known():
    stats = shop_stats({})
    ranked = rank([suggestion(1, 0.3), suggestion(2, 0.5), suggestion(3, 0.4)], stats, k=2)
    assert [r.suggestion.script_id for r in ranked] == [2, 3]


def test_promises_are_the_committing_sentences():
    text = (
        "非常抱歉给您带来不便。我们会在48小时内为您补发！另外，明天上午给您回电话确认。"
        "有问题随时找我~；退款3个工作日内到账"
    )
    assert history.promises(text) == [
        "我们会在48小时内为您补发！",
        "另外，明天上午给您回电话确认。",
        "退款3个工作日内到账",
    ]
    assert history.promises("好的，收到。请稍等") == []


def test_pinyin_initials_and_search_order():
    assert search.initials("查询物流进度") == "cxwljd"
    assert search.initials("7天无理由退货") == "7twlyth"

    def script(sid: int, title: str, *questions: str) -> PublishedScript:
        category = "咨询/发票" if "发票" in title else "咨询/物流"
        return PublishedScript(
            id=sid, version=1, title=title, category=category, answer="a", questions=questions
        )

    entries = search.index_for(
        -1,
        "test",
        [
            script(1, "查询物流进度", "快递到哪了"),
            script(2, "物流停滞", "物流好几天不动"),
            script(3, "发票", "能开发票吗"),
        ],
    )
    titles = lambda q: [e.script.title for e in search.search_entries(entries, q)]  # noqa: E731
    assert titles("cxwl") == ["查询物流进度"]
    assert titles("wl") == ["物流停滞", "查询物流进度"]  # a prefix beats a substring
    assert titles("物流") == ["物流停滞", "查询物流进度"]
    assert titles("不动") == ["物流停滞"]
    assert titles("FP") == ["发票"]  # case and full-width folding
    assert titles("咨询/发") == ["发票"]  # the category, last
    assert titles("") == ["发票", "查询物流进度", "物流停滞"]


def test_past_success_reorders_equal_scripts_end_to_end(app_client, demo_shop, database_url):
    questions = ["紫色独角兽贴纸什么时候补货", "独角兽贴纸还会有货吗", "紫色独角兽贴纸缺货了吗"]

    async def create(session):  # type: ignore[no-untyped-def]
        actor = Actor.system(demo_shop.shop_id)
        ids = []
        for title in ("贴纸补货A", "贴纸补货B"):
            script = await knowledge.create_script(
                session,
                shop_id=demo_shop.shop_id,
                actor=actor,
                title=title,
                answer=f"{title}：下周一补货",
                questions=questions,
                category="咨询/商品",
                publish=True,
            )
            ids.append(script.id)
        poor, proven = ids
        for _ in range(20):
            session.add(
                ScriptEvent(
                    shop_id=demo_shop.shop_id, script_id=poor, kind=ScriptEventKind.suggested
                )
            )
            for kind in (ScriptEventKind.suggested, ScriptEventKind.inserted):
                session.add(ScriptEvent(shop_id=demo_shop.shop_id, script_id=proven, kind=kind))
            session.add(
                ScriptEvent(
                    shop_id=demo_shop.shop_id,
                    script_id=proven,
                    kind=ScriptEventKind.sent,
                    edited=False,
                )
            )
        return poor, proven

    poor, proven = in_database(database_url, create)
    chat = served_chat(app_client, demo_shop, "紫色独角兽贴纸什么时候补货呀")
    top = chat.agent.get(f"/api/v1/conversations/{chat.conversation_id}/suggestions").json()
    by_id = {s["script_id"]: s for s in top}
    assert {poor, proven} <= set(by_id)
    assert abs(by_id[poor]["match"] - by_id[proven]["match"]) < 0.05
    assert [s["script_id"] for s in top].index(proven) < [s["script_id"] for s in top].index(poor)
    assert by_id[proven]["success"] > by_id[poor]["success"]
    assert suggestions.SUCCESS_WEIGHT > 0
