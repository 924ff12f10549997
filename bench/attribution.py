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
    "learned weights (shipped)": lambda p: p[2],
}


def cross_validated(
    documents: Mapping[str, Sequence[str]], target: str, *, folds: int, seed: int = 0
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Out-of-fold probabilities (style, TF-IDF, the shipped combination) and labels per judged length,
    documents grouped into ``folds``."""
    from llm_engineering.model.evaluation.attribution import AttributionClassifier, windows

    rng = random.Random(seed)
    tagged = [(int(author == target), text) for author, texts in documents.items() for text in texts]
    order = list(range(len(tagged)))
    rng.shuffle(order)
    fold_of = {i: n % folds for n, i in enumerate(order)}
    out: dict[int, tuple[list[np.ndarray], list[int]]] = {n: ([], []) for n in LENGTHS}
    for fold in range(folds):
        train = [tagged[i] for i in range(len(tagged)) if fold_of[i] != fold]
        test = [tagged[i] for i in range(len(tagged)) if fold_of[i] == fold]
        classifier = AttributionClassifier(
            [t for label, t in train if label], [t for label, t in train if not label], words=max(LENGTHS)
        )
        for n in LENGTHS:
            texts, labels = [], []
            for label, text in test:
                pieces = windows([text], words=n) or ([text] if len(text.split()) >= n // 2 else [])
                texts += pieces
                labels += [label] * len(pieces)
            if texts:
                out[n][0].append(
                    np.vstack([classifier.voter_probabilities(texts), classifier.author_probability(texts)])
                )
                out[n][1].extend(labels)
    return {n: (np.concatenate(p, axis=1), np.array(y)) for n, (p, y) in out.items() if p}


def balanced_accuracy(said: np.ndarray, labels: np.ndarray) -> float:
    """Mean of the recall of the author's texts and of the other texts."""
    parts = [float((said[labels == k] == k).mean()) for k in (0, 1) if (labels == k).any()]
    return sum(parts) / len(parts)


def table(name: str, documents: Mapping[str, Sequence[str]], folds: int) -> str:
    """Rows: each combiner; columns: each target author at each length."""
    results = {target: cross_validated(documents, target, folds=folds) for target in documents}
    header = ["voters"] + [f"{t.split()[-1]} @{n}w" for t in results for n in LENGTHS] + ["mean"]
    lines = [header]
    for combiner_name, combine in COMBINERS.items():
        cells = []
        for per_length in results.values():
            for n in LENGTHS:
                probabilities, labels = per_length[n]
                cells.append(balanced_accuracy((combine(probabilities) > 0.5).astype(int), labels))
        lines.append([combiner_name] + [f"{c:.3f}" for c in cells] + [f"{np.mean(cells):.3f}"])
    counts = ", ".join(f"{a} {len(d)}" for a, d in documents.items())
    return f"{name} ({counts} documents, {folds} folds by document)\n" + aligned_table(lines)


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
    click.echo(table("demo corpus", demo_documents(), folds))
    if (corpus / "ArticleDocument.json").is_file():
        handbook = handbook_documents(corpus)
        click.echo("\n" + table("handbook corpus", handbook, folds))
        click.echo("\n" + open_set_table(handbook, demo_documents()))
    else:
        click.echo(f"\nno handbook corpus at {corpus}: its table is skipped")


if __name__ == "__main__":
    main()
