import pytest

from xiaoer.nlp import normalize, tokenize
from xiaoer.nlp.text import char_ngrams, fold_width


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＸＥ２０２６ＡＢＣ", "xe2026abc"),
        ("花唄可以改分期嗎", "花呗可以改分期吗"),
        ("  我的   快递\t到哪了  ", "我的 快递 到哪了"),
        ("发货太慢了！！！！", "发货太慢了!"),
        ("真的吗？？？", "真的吗?"),
        ("好的。。。", "好的。"),
        ("Hello World", "hello world"),
        ("谢谢😊👍", "谢谢😊👍"),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ＸＥ２０２６　ＡＢＣ！！",
        "頭髮乾燥怎麼辦？？",
        "A  b\n\nC",
        "😊😊 好!!",
        "",
        "   ",
        "Ⅻ ﬁ İ",
    ],
)
def test_normalize_is_idempotent(raw: str) -> None:
    once = normalize(raw)
    assert normalize(once) == once


def test_fold_width_keeps_length_for_offsets() -> None:
    raw = "订单ＸＥ２０２６１１２３０００１２３"
    assert len(fold_width(raw)) == len(raw)
    assert fold_width(raw).endswith("xe20261123000123")


def test_tokenize_keeps_shop_words_whole() -> None:
    tokens = tokenize(normalize("支持七天无理由退换货吗，有运费险吗"))
    assert "七天无理由" in tokens
    assert "运费险" in tokens
    assert "退换货" in tokens


def test_tokenize_mixed_chinese_english_and_emoji() -> None:
    tokens = tokenize(normalize("iPhone 15 Pro有货吗😊"))
    assert tokens[:3] == ["iphone", "15", "pro"]
    assert "😊" in tokens
    assert "有货" in tokens or "有" in tokens


def test_char_ngrams_skip_spaces() -> None:
    assert char_ngrams("ab c", 2, 2) == ["ab", "bc"]
