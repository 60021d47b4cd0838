"""Trained matchers are shared between libraries that learned the same questions, never between
libraries that differ, and each library's answers carry its own script ids."""

from __future__ import annotations

from xiaoer.bot import engine

QUESTIONS = [
    ["多久发货", "什么时候发货", "付款后几天发货"],
    ["怎么退货", "我要退货", "退货流程是什么"],
    ["可以开发票吗", "发票怎么开", "能开增值税发票吗"],
]


def test_same_questions_share_one_training_and_keep_their_own_ids():
    mine = engine.train_matcher([(str(100 + i), qs) for i, qs in enumerate(QUESTIONS)])
    theirs = engine.train_matcher([(str(900 + i), qs) for i, qs in enumerate(QUESTIONS)])
    assert theirs._index is mine._index  # one training, two labellings
    assert mine.search("我要退货")[0].script_id == "101"
    assert theirs.search("我要退货")[0].script_id == "901"
    assert mine.script_ids == ["100", "101", "102"]


def test_a_changed_library_trains_again():
    before = engine.train_matcher([(str(i), qs) for i, qs in enumerate(QUESTIONS)])
    changed = [*QUESTIONS[:2], [*QUESTIONS[2], "发票抬头写错了怎么办"]]
    after = engine.train_matcher([(str(i), qs) for i, qs in enumerate(changed)])
    assert after._index is not before._index
    reordered = engine.train_matcher([(str(i), qs) for i, qs in enumerate(QUESTIONS[::-1])])
    assert reordered._index is not before._index
    assert reordered.search("怎么开发票")[0].script_id == "0"


def test_the_cache_stays_bounded():
    for n in range(engine.TRAINED_CACHE_SIZE + 3):
        engine.train_matcher([("1", [*QUESTIONS[0], f"第{n}个问题"]), ("2", QUESTIONS[1])])
    assert len(engine._trained) == engine.TRAINED_CACHE_SIZE
