"""Text normalisation and tokenisation shared by every NLP model.

`normalize` is the one canonical form models are trained and queried on; `fold_width` is the
length-preserving part of it used where character offsets must stay valid (entities).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

_WIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH_TABLE[0x3000] = 0x20  # ideographic space
_WIDTH_TABLE[0xFFE5] = ord("¥")  # full-width yen sign
_WIDTH_TABLE[0xFFE0] = ord("¢")
_WIDTH_TABLE[0xFFE1] = ord("£")

_SPACE_RE = re.compile(r"\s+")
# A run of the same punctuation mark ("！！！", "???", "。。。", "~~~") becomes one mark.
_REPEAT_PUNCT_RE = re.compile(r"([!?.,;:~\-。，、？！…·～*#])\1+")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_TOKEN_RE = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"  # CJK run (segmented by jieba)
    r"|[a-z0-9]+(?:['’.][a-z0-9]+)*"  # latin word / number
    r"|[\U0001F000-\U0001FAFF\u2600-\u27BF]"  # emoji (one token each)
)

_opencc_lock = threading.Lock()


def fold_width(text: str) -> str:
    """Full-width → half-width and lower case, one character for one character.

    Offsets into the result are offsets into `text`, which is what entity spans need.
    """
    folded = text.translate(_WIDTH_TABLE)
    # str.lower() can change length for a few characters (e.g. "İ"); keep those as they are.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Canonical form of a customer message: deterministic and idempotent.

    Full-width → half-width, traditional → simplified Chinese (OpenCC t2s), lower case, runs of
    the same punctuation mark collapsed to one, whitespace collapsed and stripped. Emoji are kept.
    """
    out = unicodedata.normalize("NFC", text).translate(_WIDTH_TABLE)
    if _CJK_RE.search(out):
        with _opencc_lock:  # the OpenCC handle is not documented as thread-safe
            out = _converter().convert(out)
        out = out.translate(_WIDTH_TABLE)
    out = out.lower()
    out = _REPEAT_PUNCT_RE.sub(r"\1", out)
    return _SPACE_RE.sub(" ", out).strip()


# E-commerce words jieba should keep whole (carriers, after-sales terms, sizes …).
_SHOP_WORDS = """
顺丰 中通 圆通 韵达 申通 京东物流 邮政 极兔 百世 德邦 天天快递 菜鸟驿站 快递柜 丰巢
退换货 退货 换货 退款 仅退款 退货退款 七天无理由 7天无理由 运费险 包邮 到付 尺码 尺码表 码数
偏大 偏小 发货 催发货 物流 快递单号 运单号 订单号 签收 拒收 未收到 少发 漏发 错发 破损
发票 电子发票 增值税发票 优惠券 满减 领券 券后价 预售 定金 尾款 保价 价保 差价 补差价
花呗 借呗 余额宝 白条 分期 免息 支付宝 微信支付 客服 人工客服 转人工 差评 好评 追评
投诉 假货 正品 质检 保修 三包 售后 12315 消协 工商局 骗子 气死 太慢了
"""


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(60)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in _SHOP_WORDS.split():
        tokenizer.add_word(word, freq=50000)
    try:  # a shop may ship extra words next to this module
        extra = resources.files("xiaoer.nlp").joinpath("shop_words.txt").read_text("utf-8")
    except (FileNotFoundError, OSError):
        extra = ""
    for word in extra.split():
        tokenizer.add_word(word, freq=50000)
    return tokenizer


@lru_cache(maxsize=65536)
def _cut(run: str) -> tuple[str, ...]:
    return tuple(w for w in _jieba().cut(run, HMM=True) if w.strip())


def tokenize(text: str) -> list[str]:
    """Word tokens of a *normalised* text: jieba words for Chinese, latin words, emoji.

    Punctuation is dropped. Call `normalize` first; the function does not fold case or width.
    """
    tokens: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        piece = m.group()
        if _CJK_RE.match(piece):
            tokens.extend(_cut(piece))
        else:
            tokens.append(piece)
    return tokens


def char_ngrams(text: str, n_min: int = 1, n_max: int = 3) -> list[str]:
    """Character n-grams of a normalised text without spaces (for Chinese)."""
    compact = text.replace(" ", "")
    grams: list[str] = []
    for n in range(n_min, n_max + 1):
        grams.extend(compact[i : i + n] for i in range(len(compact) - n + 1))
    return grams


def is_chinese(texts: Iterable[str], sample: int = 200) -> bool:
    """Whether most of (a sample of) the texts contain CJK characters."""
    seen = hits = 0
    for text in texts:
        seen += 1
        hits += bool(_CJK_RE.search(text))
        if seen >= sample:
            break
    return seen > 0 and hits * 2 >= seen


def word_analyzer(text: str | tuple[str, ...]) -> list[str]:
    """Word uni+bigrams over `tokenize` (a picklable analyzer for scikit-learn vectorizers); a
    tuple is taken as the text's tokens already (saves a jieba pass when the caller has them)."""
    toks = tokenize(text) if isinstance(text, str) else list(text)
    return toks + [f"{a} {b}" for a, b in itertools.pairwise(toks)]


def tfidf_row(
    grams: Iterable[str], vocab: dict[str, int], idf: Any
) -> tuple[list[int], list[float]]:
    """One L2-normalised sublinear TF-IDF row, as scikit-learn computes it, without its per-call
    validation overhead (which dominated the latency of one short message)."""
    counts: dict[int, int] = {}
    for g in grams:
        j = vocab.get(g)
        if j is not None:
            counts[j] = counts.get(j, 0) + 1
    if not counts:
        return [], []
    idx = list(counts)
    vals = [(1.0 + math.log(c)) * float(idf[j]) for j, c in counts.items()]
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return idx, [v / norm for v in vals]
