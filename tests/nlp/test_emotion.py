from pathlib import Path

import pytest

from xiaoer.nlp import Emotion, TextClassifier, detect_emotion
from xiaoer.nlp import emotion as emotion_module
from xiaoer.nlp.datasets import read_labelled
from xiaoer.nlp.store import save_model

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(autouse=True)
def no_saved_model(tmp_path: Path):
    emotion_module.set_models_dir(tmp_path)
    yield tmp_path
    emotion_module.set_models_dir(None)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("你们卖假货，骗子！", "anger"),
        ("再不处理我就打12315投诉你们", "anger"),
        ("气死我了，给差评", "anger"),
        ("怎么还没发货，我急用", "anxiety"),
        ("物流太慢了", "anxiety"),
        ("质量太差了，很失望", "disappointment"),
        ("再也不买了", "disappointment"),
    ],
)
def test_lexicon_negative_labels(text: str, label: str) -> None:
    e = detect_emotion(text)
    assert e.polarity == "negative"
    assert e.label == label
    assert 0.0 < e.intensity <= 1.0


def test_neutral_question() -> None:
    assert detect_emotion("请问什么时候发货") == Emotion("neutral", None, 0.0)


def test_positive_thanks() -> None:
    e = detect_emotion("收到了，很满意，谢谢")
    assert e.polarity == "positive"
    assert e.label is None


def test_negation_flips_or_cancels() -> None:
    assert detect_emotion("不满意").polarity == "negative"
    assert detect_emotion("不着急，慢慢来").polarity != "negative"
    assert detect_emotion("东西不错").polarity == "positive"


def test_intensifiers_and_exclamations_raise_intensity() -> None:
    calm = detect_emotion("有点失望")
    loud = detect_emotion("真的非常失望！！！")
    assert loud.intensity > calm.intensity


def test_uses_saved_default_model(no_saved_model: Path) -> None:
    texts, labels = read_labelled(DATA / "emotion_train.csv")
    # Repeated so the tiny sample yields a confident model (what matters here is the plumbing).
    model = TextClassifier().fit(texts * 3, labels * 3)
    save_model("emotion", "default", model, data_hash="x", models_dir=no_saved_model)
    # No lexicon cue in this text: the polarity must come from the model.
    text = "尺码合适，穿着舒服"
    assert emotion_module.lexicon_scores(text)["positive"] == 0.0
    assert detect_emotion(text).polarity == "positive"
