"""`xiaoer nlp train|eval …`: the contract used by the product owner's evaluation.

Every command prints exactly one JSON object on stdout; progress goes to stderr (Rich). Bad
input (missing file or columns, empty file, non-UTF-8, unknown label, unknown model) exits with
code 2 and a one-line message on stderr. `XIAOER_NLP__EMBEDDING_MODEL` (see
`xiaoer.nlp.embeddings`) adds dense embeddings to intent training and retrieval; default off.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from xiaoer.nlp import store
from xiaoer.nlp.datasets import (
    InputError,
    read_labelled,
    read_library,
    read_pairs,
    read_queries,
)

if TYPE_CHECKING:
    from xiaoer.nlp.classify import TextClassifier
    from xiaoer.nlp.pairs import PairScorer

app = typer.Typer(no_args_is_help=True, add_completion=False)
train_app = typer.Typer(no_args_is_help=True, help="Train a named model from a CSV file")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate a named model on a CSV file")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

EMOTION_LABELS = ("negative", "neutral", "positive")
OOS_NAMES = ("oos", "out_of_scope", "out-of-scope", "outofscope")
TASK_INTENT, TASK_MATCH, TASK_EMOTION = "intent", "match", "emotion"

NameOpt = Annotated[str, typer.Option("--name", help="Name of the saved model")]
FileArg = Annotated[Path, typer.Argument(help="UTF-8 CSV file with a header")]

_err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr; yields `advance(n=1)` (or `step(msg, fraction)`)."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total if total is not None else 100)

        def update(*args: Any) -> None:
            if len(args) == 2:  # step(message, fraction)
                bar.update(task, description=f"{description}: {args[0]}", completed=100 * args[1])
            else:
                bar.advance(task, args[0] if args else 1)

        yield update


def _load(task: str, name: str) -> Any:
    try:
        store.check_name(name)
        model, _ = store.load_model(task, name)
    except (store.ModelNotFoundError, ValueError) as exc:
        raise _fail(
            f"{exc}; train it first with `xiaoer nlp train {task} … --name {name}`"
        ) from exc
    return model


def _check_labels(path: Path, labels: Sequence[str], known: Sequence[str]) -> None:
    unknown = sorted(set(labels) - set(known))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise _fail(f"{path}: label(s) the model does not know: {shown}")


@train_app.command("intent")
def train_intent(
    train_csv: FileArg,
    name: NameOpt,
    oos_label: Annotated[
        str | None,
        typer.Option(help="Label of out-of-scope rows (default: a label named oos/out_of_scope)"),
    ] = None,
) -> None:
    """Train an intent classifier from `text,label` rows."""
    # Imported per command: scikit-learn takes seconds, and `--help` needs none of it.
    from xiaoer.nlp.classify import TextClassifier
    from xiaoer.nlp.embeddings import configured_embedder

    try:
        store.check_name(name)
        texts, labels = read_labelled(train_csv)
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if len(set(labels)) < 2:
        raise _fail(f"{train_csv}: need at least two different labels")
    if oos_label is None:
        oos_label = next((lab for lab in sorted(set(labels)) if lab.lower() in OOS_NAMES), None)
    t0 = time.perf_counter()
    with _progress("training intent", None) as step:
        model = TextClassifier(oos_label=oos_label, embedder=configured_embedder()).fit(
            texts, labels, progress=step
        )
    seconds = time.perf_counter() - t0
    manifest = store.save_model(
        TASK_INTENT,
        name,
        model,
        data_hash=store.data_hash(zip(texts, labels, strict=True)),
        metrics=model.train_metrics | {"train_seconds": round(seconds, 2)},
        extra={"oos_label": oos_label, "threshold": model.threshold},
    )
    _emit(
        {
            "task": TASK_INTENT,
            "name": name,
            "version": manifest.version,
            "n": len(texts),
            "labels": len(model.classes_),
            "oos_label": oos_label,
            "threshold": round(model.threshold, 4),
            "train_seconds": round(seconds, 2),
        }
    )


@eval_app.command("intent")
def eval_intent(
    test_csv: FileArg,
    name: NameOpt,
    oos_label: Annotated[
        str | None, typer.Option(help="Rows with this label must be predicted out of scope")
    ] = None,
) -> None:
    """Accuracy, macro-F1 (and out-of-scope recall) of a saved intent model."""
    from xiaoer.nlp import evaluate

    try:
        texts, labels = read_labelled(test_csv)
    except InputError as exc:
        raise _fail(str(exc)) from exc
    model: TextClassifier = _load(TASK_INTENT, name)
    known = list(model.classes_) + ([oos_label] if oos_label else [])
    _check_labels(test_csv, labels, known)
    with _progress("evaluating intent", len(texts)) as advance:
        result = evaluate.eval_intent(model, texts, labels, oos_label=oos_label, tick=advance)
    if oos_label is None:
        result.pop("oos_recall", None)
    _emit(result)


@train_app.command("match")
def train_match(
    pairs_csv: FileArg,
    name: NameOpt,
    dev: Annotated[
        Path | None, typer.Option("--dev", help="Pairs CSV used only to tune the threshold")
    ] = None,
) -> None:
    """Train the "same question?" pair scorer from `text_a,text_b,label` rows."""
    from xiaoer.nlp.pairs import PairScorer

    try:
        store.check_name(name)
        a, b, y = read_pairs(pairs_csv)
        dev_data = read_pairs(dev) if dev is not None else None
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if len(set(y)) < 2:
        raise _fail(f"{pairs_csv}: need both 0 and 1 labels")
    t0 = time.perf_counter()
    with _progress("training match", None) as step:
        model = PairScorer().fit(a, b, y, dev=dev_data, progress=step)
    seconds = time.perf_counter() - t0
    manifest = store.save_model(
        TASK_MATCH,
        name,
        model,
        data_hash=store.data_hash(zip(a, b, map(str, y), strict=True)),
        metrics=model.dev_metrics | {"train_seconds": round(seconds, 2)},
        extra={"threshold": model.threshold},
    )
    _emit(
        {
            "task": TASK_MATCH,
            "name": name,
            "version": manifest.version,
            "n": len(y),
            "threshold": round(model.threshold, 4),
            "train_seconds": round(seconds, 2),
        }
        | {k: round(v, 4) for k, v in model.dev_metrics.items()}
    )


@eval_app.command("match")
def eval_match(test_csv: FileArg, name: NameOpt) -> None:
    """Accuracy and F1 (same question) of a saved pair scorer."""
    from xiaoer.nlp import evaluate

    try:
        a, b, y = read_pairs(test_csv)
    except InputError as exc:
        raise _fail(str(exc)) from exc
    model: PairScorer = _load(TASK_MATCH, name)
    with _progress("evaluating match", len(y)) as advance:
        _emit(evaluate.eval_pairs(model, a, b, y, tick=advance))


@eval_app.command("retrieval")
def eval_retrieval(
    library_csv: FileArg,
    queries_csv: FileArg,
    threshold: Annotated[
        float | None, typer.Option(help="Answer confidence threshold (default: the tuned one)")
    ] = None,
) -> None:
    """Build a matcher from the library alone, then answer or decline every query."""
    from xiaoer.nlp import evaluate
    from xiaoer.nlp.embeddings import configured_embedder
    from xiaoer.nlp.matching import ScriptMatcher

    try:
        library = read_library(library_csv)
        texts, gold = read_queries(queries_csv)
    except InputError as exc:
        raise _fail(str(exc)) from exc
    _check_labels(queries_csv, [g for g in gold if g], [sid for sid, _ in library])
    with _progress("building matcher", None):
        matcher = ScriptMatcher.build(library, embedder=configured_embedder())
    with _progress("evaluating retrieval", len(texts)) as advance:
        _emit(evaluate.eval_retrieval(matcher, texts, gold, threshold=threshold, tick=advance))


@train_app.command("emotion")
def train_emotion(train_csv: FileArg, name: NameOpt) -> None:
    """Train the polarity model from `text,label` rows (negative/positive[/neutral])."""
    from xiaoer.nlp.classify import TextClassifier

    try:
        store.check_name(name)
        texts, labels = read_labelled(train_csv)
    except (InputError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    _check_labels(train_csv, labels, EMOTION_LABELS)
    if len(set(labels)) < 2:
        raise _fail(f"{train_csv}: need at least two different labels")
    t0 = time.perf_counter()
    with _progress("training emotion", None) as step:
        model = TextClassifier().fit(texts, labels, progress=step)
    seconds = time.perf_counter() - t0
    manifest = store.save_model(
        TASK_EMOTION,
        name,
        model,
        data_hash=store.data_hash(zip(texts, labels, strict=True)),
        metrics=model.train_metrics | {"train_seconds": round(seconds, 2)},
    )
    _emit(
        {
            "task": TASK_EMOTION,
            "name": name,
            "version": manifest.version,
            "n": len(texts),
            "labels": list(model.classes_),
            "train_seconds": round(seconds, 2),
        }
    )


@eval_app.command("emotion")
def eval_emotion(test_csv: FileArg, name: NameOpt) -> None:
    """Accuracy and macro-F1 of a saved polarity model."""
    from xiaoer.nlp import evaluate

    try:
        texts, labels = read_labelled(test_csv)
    except InputError as exc:
        raise _fail(str(exc)) from exc
    _check_labels(test_csv, labels, EMOTION_LABELS)
    model: TextClassifier = _load(TASK_EMOTION, name)
    _check_labels(test_csv, labels, list(model.classes_))
    with _progress("evaluating emotion", len(texts)) as advance:
        _emit(evaluate.eval_emotion(model, texts, labels, tick=advance))
