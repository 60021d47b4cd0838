from pathlib import Path

from xiaoer.nlp import ScriptMatch, ScriptMatcher
from xiaoer.nlp.datasets import read_library, read_queries

DATA = Path(__file__).parents[1] / "data"

LIBRARY = [
    ("where", ["我的快递到哪了", "物流怎么不更新", "包裹到哪里了", "快递什么时候到", "查一下物流"]),
    ("ship", ["什么时候发货", "今天能发货吗", "怎么还不发货", "下单多久发货", "催一下发货"]),
    ("return", ["怎么退货", "我要退货", "可以退货吗", "退货流程是什么", "七天无理由退货吗"]),
    ("invoice", ["可以开发票吗", "怎么开发票", "能开增值税发票吗", "发票怎么申请", "我需要发票"]),
    ("coupon", ["优惠券怎么用", "优惠券用不了", "有没有优惠券", "怎么领券", "满减券能叠加吗"]),
    (
        "en_refund",
        [
            "how do i get a refund",
            "i want my money back",
            "refund please",
            "can i return it",
            "how long does a refund take",
        ],
    ),
]


def test_search_ranks_the_right_script_first_with_order_number() -> None:
    m = ScriptMatcher.build(LIBRARY)
    res = m.search("我的订单XE20261123583907到哪了？", k=3)
    assert len(res) == 3
    assert isinstance(res[0], ScriptMatch)
    assert res[0].script_id == "where"
    assert res[0].score >= res[1].score >= res[2].score


def test_english_and_traditional_chinese_queries() -> None:
    m = ScriptMatcher.build(LIBRARY)
    assert m.search("How can I get my refund?")[0].script_id == "en_refund"
    assert m.search("可以開發票嗎")[0].script_id == "invoice"


def test_answer_declines_unrelated_messages() -> None:
    m = ScriptMatcher.build(LIBRARY)
    assert m.answer("给我讲个笑话") is None
    assert m.answer("你好") is None
    assert 0.0 <= m.threshold <= 1.01


def test_fixture_retrieval_precision_when_answered() -> None:
    m = ScriptMatcher.build(read_library(DATA / "retrieval_library.csv"))
    texts, gold = read_queries(DATA / "retrieval_queries.csv")
    answered = [(m.answer(t), g) for t, g in zip(texts, gold, strict=True)]
    made = [(a.script_id, g) for a, g in answered if a is not None]
    assert len(made) >= len(texts) * 0.4
    assert sum(a == g for a, g in made) / len(made) >= 0.9


def test_large_library_builds_and_finds_its_scripts() -> None:
    lib = [(f"s{i}", [f"问题{i}的第{j}种问法 商品{i % 97}" for j in range(5)]) for i in range(2000)]
    m = ScriptMatcher.build(lib)
    assert m.search("问题17的第2种问法 商品17")[0].script_id == "s17"


def test_fast_tfidf_fit_matches_scikit_learn() -> None:
    from collections import Counter

    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from xiaoer.nlp.matching import _char_wb, _Vectorizer

    texts = [v for _, vs in LIBRARY for v in vs] + ["a", "ab  C", "Where IS my card?", "x 中 yz"]
    ref = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)).build_analyzer()
    for t in texts:
        assert Counter(_char_wb(t, 4)) == Counter(ref(t))
    fast = _Vectorizer()
    X = fast.fit_transform(texts)
    slow = _Vectorizer()
    Y = _Vectorizer._join(slow.words.fit_transform(texts), slow.chars.fit_transform(texts))
    queries = ["我要退货", "refund please now", "发票"]
    sims_fast = (fast.transform(queries) @ X.T).toarray()
    sims_slow = (slow.transform(queries) @ Y.T).toarray()
    assert np.allclose(sims_fast, sims_slow, atol=1e-5)
    # the scikit-learn vectorizers are left fitted too
    assert fast.chars.transform(["退货"]).nnz == slow.chars.transform(["退货"]).nnz


def test_large_library_candidates_find_the_nearest_variant() -> None:
    lib = [(f"s{i}", [f"问题{i}的第{j}种问法 商品{i % 97}" for j in range(3)]) for i in range(1200)]
    lib.append(("empty", []))
    m = ScriptMatcher.build(lib, exact_max_scripts=100)
    assert m.search("问题533的第1种问法 商品48")[0].script_id == "s533"
    assert m.search_many(["问题7的第0种问法", "商品5"], k=2)[0][0].script_id == "s7"
