import numpy as np

from xiaoer.nlp.vectors import CooccurrenceVectors


def _corpus() -> list[list[str]]:
    # 花呗 and 借呗 share every context; 天气 lives in other sentences.
    out = []
    for product in ("花呗", "借呗"):
        for action in ("怎么", "如何", "能不能"):
            for verb in ("还款", "开通", "关闭", "提额"):
                out.append(["我的", product, action, verb])
    for day in ("今天", "明天", "后天"):
        for word in ("晴", "下雨", "刮风"):
            out.append([day, "天气", word, "吗"])
    return out


def test_tokens_in_the_same_contexts_get_close_vectors() -> None:
    vec = CooccurrenceVectors.fit(_corpus(), dim=8, window=2)
    a, b, c = vec.lookup(["花呗", "借呗", "天气"])
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)
    assert float(a @ b) > 0.9
    assert float(a @ b) > float(a @ c) + 0.5


def test_lookup_and_mean_skip_unknown_tokens_and_are_deterministic() -> None:
    vec = CooccurrenceVectors.fit(_corpus(), dim=8, window=2)
    assert vec.lookup(["从没见过"]).shape == (0, vec.dim)
    means = vec.mean([["从没见过"], ["花呗", "从没见过"]])
    assert not means[0].any()
    assert np.allclose(means[1], vec.lookup(["花呗"])[0], atol=1e-5)
    again = CooccurrenceVectors.fit(_corpus(), dim=8, window=2)
    assert np.allclose(vec.vectors, again.vectors)


def test_tiny_corpora_give_a_usable_model() -> None:
    vec = CooccurrenceVectors.fit([["只有", "一句"]], dim=8)
    assert vec.dim >= 1
    assert vec.mean([["只有"]]).shape == (1, vec.dim)
