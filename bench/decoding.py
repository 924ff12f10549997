"""Benchmark: choose the decoding defaults on the dev split (``poe bench-decoding``).

Reads a project state (default: STATE_DIR; ``--prepare demo|handbook`` first builds one in
``--state`` with the project's own pipelines: both authors embedded, the instruction dataset
split by document into train / validation / test. The demo's dev split is 2 rows; the
handbook's, from Paul Iusztin's articles, is larger). Then, for the packaged base model and the newest trained twin of the state's registry
(when there is one):

1. the **validation** split's instructions (documents held out of training; the test split is
   never read) are asked with the served prompt: passages retrieved by the API's own
   retriever, the sample's own document left out, ``build_messages``' context budget;
2. every point of :data:`~llm_engineering.model.evaluation.tuning.GRID` (temperature, top-p,
   repetition penalty, no-repeat n-gram size, frequency and presence penalties) answers them
   through the generator serving uses;
3. the answers are scored with the evaluation's metrics, each with its bootstrap 95% interval:
   loop rate, share ended before the token limit, style distance from the author's references,
   attribution to the author (classifier trained on the train split against the other
   author's writing; its held-out accuracy is printed), ROUGE-L against the author's reference,
   distinct-2 and the answers' mean length in words.

It prints one table and the chosen point (:func:`~llm_engineering.model.evaluation.tuning.choose_decoding`)
as the ``Decoding`` defaults to set in ``llm_engineering/domain/decoding.py``.

Usage: ``python -m bench.decoding [--state DIR] [--prepare demo|handbook] [--samples N] [--max-new-tokens N] [--runtime onnx]``
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

HANDBOOK = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "llm-engineers-handbook"
HANDBOOK_AUTHORS = ("Paul Iusztin", "Maxime Labonne")


def prepare_state(state: Path, *, corpus: str) -> None:
    """Build a state in ``state`` with the project's own pipelines (``tools.run``, an isolated warehouse).

    ``demo``: ``end-to-end-data`` on the offline demo (Maya Lindqvist, Theo Castellanos as the other
    author). ``handbook``: the handbook's articles imported into the warehouse, both authors embedded,
    the instruction dataset built from Paul Iusztin's (a larger dev split than the demo's).
    """
    from bench.twin_voice import Project
    from llm_engineering.infrastructure.local_services import WarehouseServer, free_port
    from llm_engineering.infrastructure.warehouse import connect
    from llm_engineering.infrastructure.warehouse_json import read_documents

    work = state.parent
    server = WarehouseServer(data_dir=work / "warehouse", port=free_port())
    server.start()
    try:
        project = Project(work=work, warehouse_uri=server.uri, log=work / "bench-decoding.log")
        if project.state_dir != state:
            raise click.ClickException(f"--state must be a folder named 'state' (got {state})")
        if corpus == "demo":
            seconds = project.run("end-to-end-data")
        else:
            with connect(server.uri, "twin_voice") as warehouse:
                for documents in read_documents(HANDBOOK).values():
                    warehouse.bulk_insert(list(documents))
            seconds = project.run("feature-engineering", f"author_full_names=[{', '.join(HANDBOOK_AUTHORS)}]")
            seconds += project.run("generate-instruct-datasets", f"author_full_names=[{HANDBOOK_AUTHORS[0]}]")
        click.echo(f"prepared {state} from the {corpus} corpus in {seconds:.0f}s (log: {project.log})")
    finally:
        server.stop()


def dev_dataset(datasets_root: Path) -> Path:
    """The newest instruction dataset with a non-empty validation split."""
    from datasets import load_from_disk

    folders = sorted((datasets_root / "instruction").glob("*/dataset_dict.json"), reverse=True)
    for marker in folders:
        if "validation" in load_from_disk(str(marker.parent)):
            return marker.parent
    raise click.ClickException(
        f"no instruction dataset with a validation split under {datasets_root}: run the datasets pipeline "
        "(or this bench with --prepare)"
    )


def fmt(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None:
        return "-"
    if interval is None:
        return f"{value:.2f}"
    return f"{value:.2f} [{interval[0]:.2f},{interval[1]:.2f}]"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State folder (default: STATE_DIR).",
)
@click.option(
    "--prepare",
    type=click.Choice(["demo", "handbook"]),
    default=None,
    help="Build the state first (when it has no dataset): the offline demo, or the handbook corpus.",
)
@click.option(
    "--author",
    default=None,
    help="Whose twin (default: the trained twin's author, else the dev documents' author).",
)
@click.option(
    "--samples", type=click.IntRange(1, 200), default=12, show_default=True, help="Validation samples."
)
@click.option("--max-new-tokens", type=click.IntRange(8, 1024), default=160, show_default=True)
@click.option("--runtime", default=None, help="Generator runtime (onnx, transformers; default: serving's).")
@click.option("--points", default=None, help="Comma-separated grid labels to run (default: all).")
def main(
    state: Path | None,
    prepare: str | None,
    author: str | None,
    samples: int,
    max_new_tokens: int,
    runtime: str | None,
    points: str | None,
) -> None:
    """Answer the dev split with each decoding of the grid; print the table and the chosen defaults."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llm_engineering.application.feature_store import iter_cleaned_documents
    from llm_engineering.application.rag.hybrid import ContextRetriever
    from llm_engineering.configs.evaluating import AnswerGenerationConfig
    from llm_engineering.infrastructure.embeddings import build_embedder
    from llm_engineering.infrastructure.vector_stores import build_vector_store
    from llm_engineering.model.base_model import resolve_base_model
    from llm_engineering.model.evaluation.answer import (
        conversations_for,
        lexical_index,
        load_folder_generator,
        served_contexts,
    )
    from llm_engineering.model.evaluation.attribution import AttributionUnavailable, attribution_rates
    from llm_engineering.model.evaluation.generated import distinct_values, ended_flags, loop_flags
    from llm_engineering.model.evaluation.intervals import mean_interval
    from llm_engineering.model.evaluation.plan import load_dataset_samples
    from llm_engineering.model.evaluation.rouge import rouge_l
    from llm_engineering.model.evaluation.score import other_author_documents, style_with_interval
    from llm_engineering.model.evaluation.tuning import GRID, GridRow, choose_decoding, grid_decodings
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.settings import Settings, get_settings

    settings = get_settings() if state is None else Settings(state_dir=state.resolve())
    if prepare and not (settings.state_dir / "datasets" / "instruction").is_dir():
        prepare_state(settings.state_dir, corpus=prepare)
    started = time.perf_counter()
    folder = dev_dataset(settings.state_dir / "datasets")
    asked, author_texts = load_dataset_samples(folder, limit=samples, split="validation")
    registry = ModelRegistry(settings.models_dir)
    twins = [v for v in registry.versions() if v.stage != "base"] if registry.root.exists() else []
    models = {"base": resolve_base_model(settings.base_model, models_dir=settings.models_dir)}
    if twins:
        models[twins[0].name] = Path(twins[0].folder)
    with build_vector_store(settings) as store:
        if author is None:  # the trained twin's author, else whoever wrote the dev documents
            owners = {d.id: d.author_full_name for d in iter_cleaned_documents(store)}
            author = (twins[0].author if twins else None) or owners.get(asked[0].document_id or "")
        if not author:
            raise click.ClickException("no author known: pass --author 'First Last'")
        embedder = build_embedder(settings)
        retriever = ContextRetriever(embedder=embedder, known_authors=[author])
        contexts = served_contexts(
            asked, retriever=retriever, store=store, lexical=lexical_index(store), author=author, k=3
        )
        others, _ = other_author_documents(store, author=author, max_documents=200)
    arm = "served" if any(contexts.passages) else "bare"
    conversations = conversations_for(asked, author=author, arm=arm, contexts=contexts.passages)
    references = [s.reference for s in asked]
    grid = [g for g in GRID if points is None or g[0] in {p.strip() for p in points.split(",")}]
    click.echo(
        f"dev split of {folder.name}: {len(asked)} validation samples of {author} ({arm} prompts, "
        f"{contexts.left_out} own-document chunks left out); {len(others)} other-author documents; "
        f"models: {', '.join(models)}; {len(grid)} decodings x {max_new_tokens} tokens at most"
    )
    rows: list[GridRow] = []
    answers: dict[str, list[str]] = {}
    for model, path in models.items():
        generator = load_folder_generator(path, AnswerGenerationConfig(runtime=runtime))
        try:
            for label, decoding in grid_decodings(max_new_tokens=max_new_tokens, grid=grid):
                begun = time.perf_counter()
                generated = generator.generate(conversations, decoding, batch_size=8)
                seconds = time.perf_counter() - begun
                texts = [g.text for g in generated]
                answers[f"{model}|{label}"] = texts
                loops, ended = loop_flags(texts), ended_flags([g.finish_reason for g in generated])
                distinct = distinct_values(texts)
                style, style_interval, _ = style_with_interval(texts, references)
                rouge = [rouge_l(text, reference) for text, reference in zip(texts, references, strict=True)]
                rows.append(
                    GridRow(
                        model=model,
                        label=label,
                        scores={
                            "loop_rate": sum(loops) / len(loops),
                            "ended_rate": sum(ended) / len(ended),
                            "distinct_2": sum(d for d in distinct if d is not None)
                            / max(1, sum(d is not None for d in distinct)),
                            "style_distance": style,
                            "attribution_rate": None,
                            "rouge_l": sum(rouge) / len(rouge),
                            "words": sum(len(t.split()) for t in texts) / len(texts),
                        },
                        intervals={
                            "loop_rate": mean_interval(loops),
                            "ended_rate": mean_interval(ended),
                            "distinct_2": mean_interval(distinct),
                            "style_distance": style_interval,
                            "rouge_l": mean_interval(rouge),
                        },
                        samples=len(texts),
                        seconds=seconds,
                        tokens=sum(g.completion_tokens for g in generated),
                    )
                )
                click.echo(f"  {model:<14} {label:<32} {seconds:6.1f}s", err=True)
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                close()
    try:
        found = attribution_rates(
            author_texts=author_texts, references=references, answers=answers, other_documents=others
        )
        for row in rows:
            flags = found.flags[f"{row.model}|{row.label}"]
            row.scores["attribution_rate"] = found.rates[f"{row.model}|{row.label}"]
            row.intervals["attribution_rate"] = mean_interval(flags)
        click.echo(
            f"attribution classifier: held-out accuracy {found.classifier_accuracy:.3f} (author recall "
            f"{found.author_recall:.3f}, other author rejected {found.other_specificity:.3f}, shuffled rejected "
            f"{found.shuffled_rejected:.3f})"
        )
    except AttributionUnavailable as exc:
        click.echo(f"attribution: not scored ({exc})")
    header = f"{'model':<14} {'decoding':<32} {'loop rate':>17} {'ended<limit':>17} {'style dist':>17} {'attribution':>17} {'distinct-2':>17} {'ROUGE-L':>17} {'words':>5} {'tok/s':>6}"
    click.echo(header)
    click.echo("-" * len(header))
    for row in rows:
        s, i = row.scores, row.intervals
        click.echo(
            f"{row.model:<14} {row.label:<32} {fmt(s['loop_rate'], i.get('loop_rate')):>17} "
            f"{fmt(s['ended_rate'], i.get('ended_rate')):>17} {fmt(s['style_distance'], i.get('style_distance')):>17} "
            f"{fmt(s['attribution_rate'], i.get('attribution_rate')):>17} {fmt(s['distinct_2'], i.get('distinct_2')):>17} "
            f"{fmt(s['rouge_l'], i.get('rouge_l')):>17} {s['words']:>5.0f} {row.tokens / row.seconds if row.seconds else 0:>6.0f}"
        )
    chosen, ranks = choose_decoding(rows)
    click.echo(
        "mean rank (attribution, style, ended; points within one answer of the lowest loop rate): "
        + ", ".join(f"{label} {rank:.2f}" for label, rank in sorted(ranks.items(), key=lambda kv: kv[1]))
    )
    values = dict(grid)[chosen]
    click.echo(f"chosen: {chosen} -> Decoding defaults {values or '(unchanged: greedy, no penalties)'}")
    click.echo(f"{len(rows)} runs in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
