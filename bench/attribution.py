"""Benchmark: how the attribution classifier's voters should be combined, measured by document.

The attribution classifier (``llm_engineering.model.evaluation.attribution``) has two voters, a
stylometric one and a TF-IDF one. This script measures, by grouped cross-validation over
documents (no window of a test document is ever in training), the balanced accuracy of each
voter alone and of each way of combining them, on texts of the lengths answers have:

- the demo's two authors (``data/demo``: Maya Lindqvist vs Theo Castellanos, Markdown and text);
- the handbook corpus in ../shared (Maxime Labonne vs Paul Iusztin), without the articles that
  ``bench.twin_voice`` holds out, so nothing here is chosen on that bench's test articles.

Each author in turn is the target (the author the classifier learns), the other the negatives.
It prints one table per corpus; the combination the classifier ships with is chosen from it.
A third table asks each handbook author's classifier about a demo author it never saw, without
and with the other demo author as an impostor negative: the default ``attribution.impostors``
is chosen from it.

Run: ``python -m bench.attribution [--folds 4]`` (``poe bench-attribution``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from llm_engineering.model.evaluation.report import aligned_table
from llm_engineering.settings import PROJECT_ROOT

HANDBOOK = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
LENGTHS = (50, 100)
"""Words per judged text: the bench's answers are <= 128 tokens (~95 words), the demo's up to 256."""


def demo_documents() -> dict[str, list[str]]:
    """The demo corpus's Markdown and text documents per author, read as the evaluation reads its
    impostors (``AttributionConfig.impostors``; HTML and PDF left out)."""
    from llm_engineering.configs.evaluating import AttributionConfig
    from llm_engineering.model.evaluation.score import impostor_documents

    impostors = AttributionConfig().impostors
    return {name: impostor_documents(impostors, skip=set(impostors) - {name}) for name in impostors}


def handbook_documents(corpus: Path) -> dict[str, list[str]]:
    """The handbook's cleaned articles per author, less the ones ``bench.twin_voice`` holds out."""
    from bench.twin_voice import FULL
    from bench.twin_voice_report import choose_held_out, load_articles

    articles = load_articles(corpus)
    held = {a.id for chosen in choose_held_out(articles, per_author=FULL.held_out).values() for a in chosen}
    documents: dict[str, list[str]] = {}
    for article in articles:
        if article.id not in held:
            documents.setdefault(article.author, []).append(article.text)
    return documents


COMBINERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "style alone": lambda p: p[0],
    "TF-IDF alone": lambda p: p[1],
    "mean probability": lambda p: p[:2].mean(axis=0),
    "learned weights, code judged too (before)": lambda p: p[3],
    "learned weights, prose only (shipped)": lambda p: p[2],
}
"""Rows of the accuracy table, from the probabilities :func:`cross_validated` returns (style, TF-IDF
and learned weights of the shipped classifier, then the learned weights of one that keeps code)."""


@dataclass
class Judged:
    """Out-of-fold judgements of test windows of one length, for one target author."""

    probabilities: np.ndarray  # (4, windows): see COMBINERS
    labels: np.ndarray  # 1: the target author's window
    code: np.ndarray  # share of each window's words inside code fences
    attributed: np.ndarray  # (2, windows): is_author of the shipped classifier, of the code-keeping one


def code_share(text: str) -> float:
    """Share of ``text``'s words that are code (inside fences, the fences included)."""
    from llm_engineering.model.evaluation.attribution import prose

    words = len(text.split())
    return 1 - len(prose(text).split()) / words if words else 0.0


def cross_validated(
    documents: Mapping[str, Sequence[str]], target: str, *, folds: int, seed: int = 0
) -> dict[int, Judged]:
    """Out-of-fold judgements per judged length, documents grouped into ``folds``; test windows are cut
    from the documents as written (code included), as answers are."""
    from llm_engineering.model.evaluation.attribution import AttributionClassifier, windows

    rng = random.Random(seed)
    tagged = [(int(author == target), text) for author, texts in documents.items() for text in texts]
    order = list(range(len(tagged)))
    rng.shuffle(order)
    fold_of = {i: n % folds for n, i in enumerate(order)}
    out: dict[int, list[Judged]] = {n: [] for n in LENGTHS}
    for fold in range(folds):
        train = [tagged[i] for i in range(len(tagged)) if fold_of[i] != fold]
        test = [tagged[i] for i in range(len(tagged)) if fold_of[i] == fold]
        sides = ([t for label, t in train if label], [t for label, t in train if not label])
        shipped = AttributionClassifier(*sides, words=max(LENGTHS))
        with_code = AttributionClassifier(*sides, words=max(LENGTHS), keep_code=True)
        for n in LENGTHS:
            texts, labels = [], []
            for label, text in test:
                pieces = windows([text], words=n) or ([text] if len(text.split()) >= n // 2 else [])
                texts += pieces
                labels += [label] * len(pieces)
            if texts:
                probabilities = np.vstack(
                    [
                        shipped.voter_probabilities(texts),
                        shipped.author_probability(texts),
                        with_code.author_probability(texts),
                    ]
                )
                attributed = np.vstack([shipped.is_author(texts), with_code.is_author(texts)])
                code = np.array([code_share(t) for t in texts])
                out[n].append(Judged(probabilities, np.array(labels), code, attributed))
    return {
        n: Judged(
            np.concatenate([j.probabilities for j in js], axis=1),
            np.concatenate([j.labels for j in js]),
            np.concatenate([j.code for j in js]),
            np.concatenate([j.attributed for j in js], axis=1),
        )
        for n, js in out.items()
        if js
    }


def balanced_accuracy(said: np.ndarray, labels: np.ndarray) -> float:
    """Mean of the recall of the author's texts and of the other texts."""
    parts = [float((said[labels == k] == k).mean()) for k in (0, 1) if (labels == k).any()]
    return sum(parts) / len(parts)


CODE_BANDS = ((0.0, 0.0, "no code"), (0.0, 0.25, "under 25 % code"), (0.25, 1.0, "25 %+ code"))
"""Windows by their share of code words: (above, at most, label); the first band is exactly 0."""


def _band(code: np.ndarray, above: float, at_most: float) -> np.ndarray:
    return code == 0 if at_most == 0 else (code > above) & (code <= at_most)


def tables(name: str, documents: Mapping[str, Sequence[str]], folds: int) -> str:
    """The accuracy table (rows: each combiner; columns: each target author at each length) and the code
    table (each target's own windows attributed and the other's windows wrongly attributed, by code share,
    at 100 words, with and without code judged)."""
    results = {target: cross_validated(documents, target, folds=folds) for target in documents}
    header = ["voters"] + [f"{t.split()[-1]} @{n}w" for t in results for n in LENGTHS] + ["mean"]
    lines = [header]
    for combiner_name, combine in COMBINERS.items():
        cells = [
            balanced_accuracy((combine(judged.probabilities) > 0.5).astype(int), judged.labels)
            for per_length in results.values()
            for judged in (per_length[n] for n in LENGTHS)
        ]
        lines.append([combiner_name] + [f"{c:.3f}" for c in cells] + [f"{np.mean(cells):.3f}"])
    code_lines = [
        ["classifier of", "windows", "code judged too: own / other's attributed", "prose only (shipped)"]
    ]
    for target, per_length in results.items():
        judged = per_length[max(LENGTHS)]
        for above, at_most, label in CODE_BANDS:
            band = _band(judged.code, above, at_most)
            own, other = band & (judged.labels == 1), band & (judged.labels == 0)
            cells = [
                f"{judged.attributed[k][own].mean() if own.any() else float('nan'):.2f} ({own.sum()}) / "
                f"{judged.attributed[k][other].mean() if other.any() else float('nan'):.2f} ({other.sum()})"
                for k in (1, 0)
            ]
            code_lines.append([target, label, *cells])
    counts = ", ".join(f"{a} {len(d)}" for a, d in documents.items())
    return (
        f"{name} ({counts} documents, {folds} folds by document)\n"
        + aligned_table(lines)
        + f"\n\n{name}: 100-word windows attributed, by their share of code (own / other's, windows in brackets)\n"
        + aligned_table(code_lines)
    )


def open_set_table(handbook: Mapping[str, Sequence[str]], demo: Mapping[str, Sequence[str]]) -> str:
    """Writing of an author the classifier never saw: how much of it each handbook author's classifier
    rejects, without impostors and with the other demo author as one.

    Each handbook author's classifier learns from every other article of theirs (even positions)
    against the other handbook author's; it is judged on the odd positions of both (own recall,
    other's rejection) and on every 100-word window of one demo author (unseen), while the other
    demo author is, or is not, an impostor negative."""
    from llm_engineering.model.evaluation.attribution import AttributionClassifier, windows

    def cut(texts: Sequence[str]) -> list[str]:
        return [w for t in texts for w in windows([t], words=100)]

    header = ["classifier of", "negatives", "own recall", "other's rejected", "unseen author rejected"]
    lines = [header]
    for target in handbook:
        other = next(a for a in handbook if a != target)
        own_train, own_test = handbook[target][::2], handbook[target][1::2]
        other_train, other_test = handbook[other][::2], handbook[other][1::2]
        for unseen in demo:
            impostor = next(a for a in demo if a != unseen)
            for negatives, extra in (
                (other.split()[-1], []),
                (f"{other.split()[-1]} + {impostor}", demo[impostor]),
            ):
                classifier = AttributionClassifier(own_train, list(other_train) + list(extra))
                cells = [
                    classifier.is_author(cut(own_test)).mean(),
                    1 - classifier.is_author(cut(other_test)).mean(),
                    1 - classifier.is_author(cut(demo[unseen])).mean(),
                ]
                lines.append(
                    [target, negatives] + [f"{c:.2f}" for c in cells[:2]] + [f"{cells[2]:.2f} ({unseen})"]
                )
    return "an author never seen (handbook classifiers; demo authors unseen or impostors)\n" + aligned_table(
        lines
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--folds", default=4, show_default=True, help="Cross-validation folds (by document).")
@click.option(
    "--corpus", type=click.Path(file_okay=False, path_type=Path), default=HANDBOOK, show_default=True
)
def main(folds: int, corpus: Path) -> None:
    """Balanced accuracy of the attribution classifier's voters and their combinations, by document."""
    click.echo(tables("demo corpus", demo_documents(), folds))
    if (corpus / "ArticleDocument.json").is_file():
        handbook = handbook_documents(corpus)
        click.echo("\n" + tables("handbook corpus", handbook, folds))
        click.echo("\n" + open_set_table(handbook, demo_documents()))
    else:
        click.echo(f"\nno handbook corpus at {corpus}: its table is skipped")


if __name__ == "__main__":
    main()
