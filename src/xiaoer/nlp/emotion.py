"""Customer emotion: polarity, and for negative messages anger / anxiety / disappointment.

A lexicon of e-commerce complaint expressions (with intensifiers and negations) always runs; when
a trained polarity model named "default" exists in the models directory it is combined with the
lexicon (the model decides polarity on ordinary text, strong lexicon hits override it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from xiaoer.nlp.store import ModelRegistry
from xiaoer.nlp.text import normalize

if TYPE_CHECKING:
    from xiaoer.nlp.classify import TextClassifier

Polarity = Literal["negative", "neutral", "positive"]
NegativeLabel = Literal["anger", "anxiety", "disappointment"]
TASK = "emotion"


@dataclass(frozen=True)
class Emotion:
    """`label` is set only for negative polarity; `intensity` is 0 (calm) … 1 (furious)."""

    polarity: Polarity
    label: NegativeLabel | None
    intensity: float


# weight: how strongly the expression signals the emotion (0..1)
_ANGER = {
    "假货": 0.8,
    "骗子": 0.9,
    "骗人": 0.8,
    "欺骗": 0.8,
    "诈骗": 0.9,
    "投诉": 0.7,
    "投诉你们": 0.9,
    "12315": 0.95,
    "消协": 0.9,
    "工商局": 0.9,
    "市场监管": 0.85,
    "报警": 0.9,
    "起诉": 0.9,
    "律师": 0.8,
    "曝光": 0.8,
    "差评": 0.7,
    "气死": 0.9,
    "垃圾": 0.8,
    "坑人": 0.8,
    "黑店": 0.9,
    "无良": 0.85,
    "恶心": 0.75,
    "滚": 0.8,
    "什么破": 0.7,
    "破玩意": 0.8,
    "忽悠": 0.7,
    "太过分": 0.8,
    "过分": 0.6,
    "退钱": 0.7,
    "还钱": 0.7,
    "骗钱": 0.9,
    "生气": 0.7,
    "火大": 0.8,
    "傻": 0.7,
    "有病": 0.8,
    "坑爹": 0.8,
    "奸商": 0.9,
    "扯淡": 0.8,
    "态度差": 0.7,
    "态度恶劣": 0.85,
    "scam": 0.9,
    "fraud": 0.9,
    "fake": 0.7,
    "ridiculous": 0.7,
    "terrible": 0.7,
    "angry": 0.8,
    "complaint": 0.6,
    "worst": 0.8,
    "useless": 0.7,
    "rip off": 0.8,
    "ripoff": 0.8,
}
_ANXIETY = {
    "着急": 0.7,
    "急用": 0.8,
    "急": 0.5,
    "太慢了": 0.7,
    "怎么还没": 0.6,
    "还没到": 0.5,
    "还没发货": 0.6,
    "还没收到": 0.6,
    "快点": 0.6,
    "赶紧": 0.6,
    "催": 0.5,
    "等了好几天": 0.7,
    "等了很久": 0.6,
    "什么时候才": 0.6,
    "到底什么时候": 0.75,
    "怎么还不": 0.6,
    "尽快": 0.4,
    "马上要用": 0.7,
    "来不及": 0.7,
    "担心": 0.6,
    "到底": 0.4,
    "一直没": 0.5,
    "urgent": 0.7,
    "asap": 0.7,
    "still not": 0.6,
    "worried": 0.6,
    "hurry": 0.6,
    "waiting": 0.4,
}
_DISAPPOINT = {
    "失望": 0.8,
    "不满意": 0.6,
    "质量差": 0.7,
    "质量不好": 0.6,
    "不好用": 0.6,
    "后悔": 0.7,
    "再也不买": 0.8,
    "再也不会": 0.7,
    "心寒": 0.8,
    "遗憾": 0.6,
    "一般般": 0.4,
    "一般": 0.3,
    "不值": 0.6,
    "不好": 0.4,
    "差": 0.5,
    "难吃": 0.7,
    "难用": 0.7,
    "坏了": 0.5,
    "破损": 0.5,
    "不行": 0.4,
    "太差": 0.7,
    "很差": 0.7,
    "退货": 0.3,
    "掉色": 0.5,
    "起球": 0.5,
    "不合适": 0.3,
    "色差": 0.5,
    "有问题": 0.4,
    "不能用": 0.6,
    "没用": 0.5,
    "伤心": 0.7,
    "郁闷": 0.6,
    "disappointed": 0.8,
    "disappointing": 0.8,
    "bad": 0.5,
    "poor": 0.5,
    "broken": 0.5,
    "not happy": 0.6,
    "unhappy": 0.6,
    "regret": 0.7,
}
_POSITIVE = {
    "谢谢": 0.6,
    "感谢": 0.6,
    "满意": 0.6,
    "好评": 0.7,
    "不错": 0.6,
    "喜欢": 0.6,
    "赞": 0.6,
    "给力": 0.7,
    "很好": 0.6,
    "挺好": 0.5,
    "棒": 0.7,
    "超值": 0.7,
    "完美": 0.8,
    "推荐": 0.5,
    "好用": 0.6,
    "好吃": 0.6,
    "辛苦了": 0.6,
    "太好了": 0.7,
    "开心": 0.7,
    "物美价廉": 0.8,
    "thanks": 0.6,
    "thank you": 0.6,
    "great": 0.6,
    "good": 0.4,
    "love": 0.6,
    "perfect": 0.8,
    "awesome": 0.7,
    "excellent": 0.8,
    "happy": 0.5,
}
_INTENSIFIERS = ("非常", "特别", "超级", "极其", "十分", "太", "真的", "真是", "简直", "巨", "死了")
_NEGATIONS = ("不", "没", "没有", "别", "不是", "并不", "毫不", "not ", "no ", "never ")
_LEXICON: list[tuple[str, str, float]] = sorted(
    [(w, "anger", s) for w, s in _ANGER.items()]
    + [(w, "anxiety", s) for w, s in _ANXIETY.items()]
    + [(w, "disappointment", s) for w, s in _DISAPPOINT.items()]
    + [(w, "positive", s) for w, s in _POSITIVE.items()],
    key=lambda x: -len(x[0]),
)
_LEX_RE = re.compile("|".join(re.escape(w) for w, _, _ in _LEXICON))
_LEX = {w: (k, s) for w, k, s in _LEXICON}
_EXCLAIM_RE = re.compile(r"[!?]")

_registry = ModelRegistry()


def set_models_dir(models_dir: Path | None) -> None:
    """Point `detect_emotion` at another models directory (tests, embedded apps)."""
    global _registry
    _registry = ModelRegistry(models_dir)


def lexicon_scores(norm: str) -> dict[str, float]:
    """Per-emotion evidence 0..1 from the lexicon, negation-aware, on a normalised text."""
    scores = {"anger": 0.0, "anxiety": 0.0, "disappointment": 0.0, "positive": 0.0}
    for m in _LEX_RE.finditer(norm):
        kind, weight = _LEX[m.group()]
        before = norm[max(0, m.start() - 3) : m.start()]
        negated = any(before.endswith(n) for n in _NEGATIONS) or (
            before[-2:-1] in ("不", "没") and before[-1:] in ("太", "很", "怎", "够")
        )
        if negated:
            if kind == "positive":
                kind, weight = "disappointment", weight * 0.8
            else:
                continue  # "不着急", "没有差评"
        if any(before.endswith(i) for i in _INTENSIFIERS) or norm[m.end() : m.end() + 2] == "死了":
            weight = min(1.0, weight + 0.2)
        scores[kind] = max(scores[kind], weight) + 0.1 * min(scores[kind], weight)
    return {k: min(1.0, v) for k, v in scores.items()}


def detect_emotion(text: str, *, model: TextClassifier | None = None) -> Emotion:
    """Emotion of one customer message.

    Uses `model` when given, else the saved "default" emotion model when present, else only the
    lexicon. Exclamation/question-mark runs and intensifiers raise the intensity.
    """
    norm = normalize(text)
    lex = lexicon_scores(norm)
    neg_kind = max(("anger", "anxiety", "disappointment"), key=lambda k: lex[k])
    neg = lex[neg_kind]
    pos = lex["positive"]
    bangs = len(_EXCLAIM_RE.findall(fold_marks(text)))
    boost = min(0.3, 0.1 * bangs) + (0.1 if any(i in norm for i in _INTENSIFIERS) else 0.0)

    clf = model if model is not None else _registry.get(TASK, "default")
    p_neg: float | None = None
    if clf is not None:
        probs = clf.predict_proba([text])[0]
        classes = list(clf.classes_)
        if "negative" in classes:
            p_neg = float(probs[classes.index("negative")])
            p_pos = float(probs[classes.index("positive")]) if "positive" in classes else 0.0
            if "neutral" not in classes and max(p_neg, p_pos) < 0.75 and neg < 0.5 and pos < 0.5:
                p_neg = None  # an unsure two-class model: call it neutral

    if neg >= 0.5 and neg >= pos:
        polarity: Polarity = "negative"
    elif p_neg is not None:
        polarity = "negative" if p_neg >= 0.5 else "positive"
        if polarity == "negative" and neg == 0.0 and pos >= 0.6:
            polarity = "positive"
    elif neg > pos and neg > 0.0:
        polarity = "negative"
    elif pos > 0.0:
        polarity = "positive"
    else:
        polarity = "neutral"

    if polarity != "negative":
        intensity = min(1.0, (pos if polarity == "positive" else 0.0) + (boost if pos else 0.0))
        return Emotion(polarity, None, round(intensity, 3))
    if neg == 0.0:
        neg_kind = "disappointment"  # the model says negative without a lexicon cue
        neg = max(0.3, (p_neg or 0.5) * 0.6)
    return Emotion("negative", neg_kind, round(min(1.0, neg + boost), 3))  # type: ignore[arg-type]


def fold_marks(text: str) -> str:
    return text.replace("！", "!").replace("？", "?")
