"""Benchmark: offline dataset generation on the LLM Engineer's Handbook corpus (``poe bench-datasets``).

Reads the 76 articles of ../shared/corpora/llm-engineers-handbook/ArticleDocument.json,
cleans them with the feature pipeline's cleaning rules, and times each stage of the offline
strategies (extracts, instruction samples, preference samples, filters, split and save) on
them, the median of a few repetitions. Prints samples/s of the offline strategy and the
sample counts per split and category of both datasets, then loads the corpus's own
handbook-format datasets as an input check.

Usage: ``python -m bench.datasets [--corpus DIR] [--repeat N]``
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from llm_engineering.settings import PROJECT_ROOT

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """The result of ``fn`` and its median time over ``repeat`` runs."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, statistics.median(times)


def _counts_line(counts: dict[str, dict[str, int]]) -> str:
    return "  ".join(
        f"{split}: {per['total']} ({', '.join(f'{k} {v}' for k, v in per.items() if k != 'total')})"
        for split, per in counts.items()
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CORPUS,
    show_default=True,
    help="Folder with ArticleDocument.json (and the handbook datasets).",
)
@click.option(
    "--repeat", type=click.IntRange(1, 20), default=3, show_default=True, help="Runs per stage (median)."
)
def main(corpus: Path, repeat: int) -> None:
    """Time the offline dataset strategies on the handbook corpus and print counts per split."""
    from datasets import disable_progress_bars

    from llm_engineering.application.datasets import samples as sample_generation
    from llm_engineering.application.datasets import storage
    from llm_engineering.application.datasets.extracts import build_extracts
    from llm_engineering.application.datasets.flow import build_dataset, filter_generated
    from llm_engineering.application.datasets.quality import deduplicate_extracts
    from llm_engineering.application.preprocessing.cleaning import clean_document
    from llm_engineering.configs.datasets import GenerateDatasetsConfig
    from llm_engineering.domain.documents import ArticleDocument
    from llm_engineering.infrastructure.warehouse_json import read_documents

    disable_progress_bars()
    articles = [d for d in read_documents(corpus).get(ArticleDocument, []) if isinstance(d, ArticleDocument)]
    if not articles:
        raise click.ClickException(f"no articles in {corpus / 'ArticleDocument.json'}")
    cleaned, clean_seconds = _timed(lambda: [c for c in map(clean_document, articles) if c is not None], 1)
    click.echo(f"corpus: {len(articles)} articles, {len(cleaned)} cleaned in {clean_seconds:.2f}s")

    config = GenerateDatasetsConfig(
        dataset_type="preference", author_full_names=sorted({d.author_full_name for d in cleaned})
    )
    ex = config.extracts

    def extracts() -> Any:
        report = build_extracts(
            cleaned, max_length=ex.max_length, min_length=ex.min_length, unit=ex.unit, progress=False
        )
        kept, counts = deduplicate_extracts(
            report.extracts, threshold=config.quality.near_duplicate_threshold
        )
        return report.model_copy(update={"extracts": kept, "duplicates": counts.as_dict()})

    extract_report, extract_seconds = _timed(extracts, repeat)
    instruction, instruction_seconds = _timed(
        lambda: sample_generation.generate_instruction_samples(
            extract_report, instruction=config.instruction, llm=config.llm, progress=False
        ),
        repeat,
    )
    preference, preference_seconds = _timed(
        lambda: sample_generation.generate_preference_samples(
            instruction, preference=config.preference, llm=config.llm, progress=False
        ),
        repeat,
    )
    instruction_filtered, instruction_filter_seconds = _timed(
        lambda: filter_generated(instruction, quality=config.quality), repeat
    )
    preference_filtered, preference_filter_seconds = _timed(
        lambda: filter_generated(preference, quality=config.quality), repeat
    )
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as root:

        def build(filtered: Any) -> Any:
            return build_dataset(
                filtered, split=config.split, output=config.output, root=Path(root), title="bench"
            )

        instruction_built, instruction_build_seconds = _timed(lambda: build(instruction_filtered), repeat)
        preference_built, preference_build_seconds = _timed(lambda: build(preference_filtered), repeat)

    n_extracts, n_instruction = len(extract_report.extracts), len(instruction.samples)
    click.echo(
        f"extracts: {n_extracts} from {len(cleaned)} documents in {extract_seconds * 1000:.0f} ms "
        f"(duplicates removed: {extract_report.duplicates.get('total', 0)}; {n_extracts / extract_seconds:,.0f} extracts/s)"
    )
    click.echo(
        f"offline instruction samples: {n_instruction} in {instruction_seconds * 1000:.0f} ms "
        f"= {n_instruction / instruction_seconds:,.0f} samples/s"
    )
    click.echo(
        f"offline preference samples (generic rejected): {len(preference.samples)} in {preference_seconds * 1000:.0f} ms "
        f"= {len(preference.samples) / preference_seconds:,.0f} samples/s"
    )
    click.echo(
        f"filters (lengths, exact + near-duplicates): instruction {instruction_filter_seconds * 1000:.0f} ms, "
        f"preference {preference_filter_seconds * 1000:.0f} ms; removed {instruction_filtered.filtered['total']} / "
        f"{preference_filtered.filtered['total']}"
    )
    click.echo(
        f"split + DatasetDict + save_to_disk: instruction {instruction_build_seconds * 1000:.0f} ms, "
        f"preference {preference_build_seconds * 1000:.0f} ms"
    )
    end_to_end = (
        extract_seconds + instruction_seconds + instruction_filter_seconds + instruction_build_seconds
    )
    click.echo(
        f"instruction dataset end to end (cleaned documents -> saved dataset): {end_to_end:.2f}s "
        f"= {len(instruction_filtered.samples) / end_to_end:,.0f} samples/s"
    )
    click.echo(f"instruction dataset per split: {_counts_line(instruction_built.counts)}")
    click.echo(f"preference dataset per split:  {_counts_line(preference_built.counts)}")

    for name in ("instruct_datasets.json", "preference_datasets.json"):
        path = corpus / name
        if not path.exists():
            continue
        (kind, samples), seconds = _timed(lambda path=path: storage.load_handbook_json(path), 1)
        train = sum(s.split == "train" for s in samples)
        click.echo(
            f"handbook {name}: {kind}, train {train}, test {len(samples) - train} (loaded in {seconds:.2f}s)"
        )


if __name__ == "__main__":
    main()
