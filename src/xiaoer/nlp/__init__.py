"""NLP engine: normalisation, entities, intent, script matching, emotion. Pure library.

Public API (what the bot calls):

- `normalize(text) -> str` — canonical form (half-width, simplified Chinese, lower case).
- `tokenize(text) -> list[str]` — jieba words with the e-commerce dictionary, latin words, emoji.
- `extract_entities(text, *, order_patterns=None) -> list[Entity]` — order/tracking numbers,
  phones, amounts, dates, sizes, colours, quantities with spans and normalised values.
- `ScriptMatcher.build(library)`; `matcher.search(text, k)`, `matcher.answer(text)`,
  `matcher.threshold` — answer-script retrieval with a precision-first answer decision.
- `detect_emotion(text) -> Emotion` — polarity, negative label and intensity.
- `TextClassifier` — the intent/emotion model; `store` saves and loads named models.

No web framework and no other Xiaoer domain is imported here.
"""

from xiaoer.nlp.classify import Prediction, TextClassifier
from xiaoer.nlp.emotion import Emotion, detect_emotion
from xiaoer.nlp.entities import Entity, extract_entities
from xiaoer.nlp.matching import ScriptMatch, ScriptMatcher
from xiaoer.nlp.text import normalize, tokenize

__all__ = [
    "Emotion",
    "Entity",
    "Prediction",
    "ScriptMatch",
    "ScriptMatcher",
    "TextClassifier",
    "detect_emotion",
    "extract_entities",
    "normalize",
    "tokenize",
]
