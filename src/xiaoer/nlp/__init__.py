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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xiaoer.nlp.classify import Prediction, TextClassifier
    from xiaoer.nlp.emotion import Emotion, detect_emotion
    from xiaoer.nlp.entities import Entity, extract_entities
    from xiaoer.nlp.matching import ScriptMatch, ScriptMatcher
    from xiaoer.nlp.text import normalize, tokenize

# Resolved on first use (PEP 562): scikit-learn, SciPy and jieba cost seconds to import, and the
# CLI and the server must start without them until a model is needed.
_HOMES = {
    "Prediction": "classify",
    "TextClassifier": "classify",
    "Emotion": "emotion",
    "detect_emotion": "emotion",
    "Entity": "entities",
    "extract_entities": "entities",
    "ScriptMatch": "matching",
    "ScriptMatcher": "matching",
    "normalize": "text",
    "tokenize": "text",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


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
