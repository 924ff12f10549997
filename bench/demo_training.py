"""Benchmark: what the shipped training defaults cost on the demo corpus, stage by stage.

Builds the demo author's instruction and preference datasets the way the pipeline does (offline
questions, RAFT passages from the author's chunks embedded with the packaged MiniLM into Qdrant
Edge, the split by document hash), then trains with ``configs/training.yaml`` (voice stage,
SFT, self-play, DPO as configured there) and prints, per stage: rows, steps, seconds and
CPU-seconds per step, the share of rows cut to ``max_length``, and the stage's total. On a shared
machine CPU-seconds are the fair figure: on 2 idle cores a stage takes about half its CPU-seconds
(torch uses both).

Usage::

    python -m bench.demo_training [--set sft.max_steps=4 --set dpo.max_steps=2 ...] [--voice]

``--set`` caps steps for a quick per-step measurement; the epoch totals are then extrapolated
from the per-step cost and the steps one epoch takes (printed as "epoch est.").

``--compare-positions`` trains the same stages twice on the same datasets, each run in a fresh
process (a process's first run pays its warm-up): as shipped (the LM head scores only the
answer's positions, ``trainer.lm_head_on_labelled_positions``) and as TRL does off Triton
devices (every position, prompt and padding included). It prints each stage's seconds and
CPU-seconds per step both ways, their ratio, and whether the two runs' merged weights are equal::

    python -m bench.demo_training --compare-positions --set sft.max_steps=10 --set dpo.max_steps=4
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

import click

from llm_engineering.settings import PROJECT_ROOT, get_settings

DEMO = PROJECT_ROOT / "data" / "demo"
AUTHOR = "Maya Lindqvist"


def demo_documents() -> list:
    """The demo's Markdown, text and HTML documents as cleaned documents (the PDF is left out)."""
    from llm_engineering.domain.cleaned_documents import CleanedDocument

    documents = []
    for path in sorted(DEMO.glob("*/*")):
        if path.suffix not in (".md", ".txt", ".html"):
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            text = re.sub(r"<[^>]+>", "", text)
        category = path.parent.name
        documents.append(
            CleanedDocument(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, path.as_uri())),
                category=category,
                title=text.strip().split("\n", 1)[0].lstrip("# ").strip() if category == "articles" else None,
                content=text,
                platform="local",
                author_id="maya",
                author_full_name=AUTHOR,
                link=path.as_uri(),
                source_hash=str(len(text)),
            )
        )
    return documents


def build_datasets(root: Path) -> dict[str, float]:
    """Save the demo's instruction and preference datasets under ``root``; returns their figures."""
    from llm_engineering.application.datasets import samples as sample_generation
    from llm_engineering.application.datasets.context import add_context, store_retriever
    from llm_engineering.application.datasets.extracts import build_extracts
    from llm_engineering.application.datasets.flow import build_dataset, filter_generated
    from llm_engineering.application.features.flow import chunk_and_embed
    from llm_engineering.application.features.writer import ensure_cleaned_collections, store_embedded
    from llm_engineering.configs import load_config
    from llm_engineering.configs.datasets import GenerateDatasetsConfig
    from llm_engineering.configs.features import ChunkingConfig
    from llm_engineering.infrastructure.embeddings import default_model_path, load_embedder
    from llm_engineering.infrastructure.vector_stores import QdrantEdgeStore

    documents = demo_documents()
    embedder = load_embedder(default_model_path())
    embedded, _, _ = chunk_and_embed(
        documents, embedder=embedder, chunking=ChunkingConfig(), batch_size=32, progress=False
    )
    figures: dict[str, float] = {"documents": len(documents)}
    with QdrantEdgeStore(root / "qdrant") as store:
        ensure_cleaned_collections(store)
        store_embedded(store, embedded, dimension=embedder.dimension, batch_size=64)
        for name in ("instruct", "preference"):
            config = load_config(
                GenerateDatasetsConfig, PROJECT_ROOT / "configs" / f"generate_{name}_datasets.yaml"
            )
            extracts = build_extracts(
                documents,
                max_length=config.extracts.max_length,
                min_length=config.extracts.min_length,
                progress=False,
            )
            report = sample_generation.generate_instruction_samples(
                extracts,
                instruction=config.instruction,
                llm=config.llm,
                dataset_type=config.dataset_type,
                progress=False,
            )
            if config.dataset_type == "preference":
                report = sample_generation.generate_preference_samples(
                    report, preference=config.preference, llm=config.llm, progress=False
                )
            filtered, modes = add_context(
                filter_generated(report, quality=config.quality),
                extracts=extracts.extracts,
                retrieve=store_retriever(store, embedder, candidates=config.context.candidates),
                split=config.split,
                settings=config.context,
            )
            built = build_dataset(
                filtered,
                split=config.split,
                output=config.output,
                root=root / "datasets",
                title=f"dataset of {AUTHOR}",
            )
            click.echo(f"{name}: {built.summary()}; {modes.summary()}", err=True)
            figures[f"{name}_train_rows"] = built.counts["train"]["total"]
    return figures


def _models_dir(folder: Path) -> Path:
    """A models folder whose converted base model is the real state folder's (converted once)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base"
    if not base.exists():
        get_settings().models_dir.joinpath("base").mkdir(parents=True, exist_ok=True)
        base.symlink_to(get_settings().models_dir / "base", target_is_directory=True)
    return folder


def _same_weights(first: Path, second: Path) -> bool:
    """Whether two merged model folders hold the same tensors, bit for bit."""
    import torch
    from safetensors.torch import load_file

    def tensors(folder: Path) -> dict:
        return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(f)).items()}

    a, b = tensors(first), tensors(second)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def train_scored(config, work_dir: Path, positions: str) -> dict[str, dict]:
    """Train the stages in this process with the LM head on ``positions`` (``labelled`` as shipped,
    or ``every`` as TRL does off Triton devices), in a models folder of their own; figures per stage."""
    from llm_engineering.model.training import trainer
    from llm_engineering.model.training.flow import train_twin

    scoring = trainer.lm_head_on_labelled_positions if positions == "labelled" else _every_position
    with mock.patch.object(trainer, "lm_head_on_labelled_positions", scoring):
        _, results, _ = train_twin(
            config,
            models_dir=_models_dir(work_dir / f"models-{positions}"),
            datasets_root=work_dir / "datasets",
        )
    return {
        r.stage: {
            "steps": r.steps,
            "seconds": r.seconds,
            "cpu_seconds": r.cpu_seconds,
            "merged": str(r.merged),
        }
        for r in results
    }


def _every_position(device: str) -> contextlib.AbstractContextManager:
    """TRL as it is off Triton devices: the LM head scores every position."""
    return contextlib.nullcontext()


def compare_positions_run(overrides: tuple[str, ...], work_dir: Path) -> None:
    """Train as shipped and with every position scored, each in a fresh process; print the costs side by side."""
    runs = {}
    for positions in ("every", "labelled"):
        click.echo(f"training, the LM head scoring {positions} position(s) ...", err=True)
        command = [
            sys.executable,
            "-m",
            "bench.demo_training",
            "--work",
            str(work_dir),
            "--positions",
            positions,
        ]
        command += [arg for override in overrides for arg in ("--set", override)]
        process = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)
        if process.returncode != 0:
            raise click.ClickException(f"training on {positions} positions failed:\n{process.stderr[-3000:]}")
        runs[positions] = json.loads(process.stdout.strip().splitlines()[-1])
    click.echo(f"demo corpus, overrides: {' '.join(overrides) or 'none'}; each run in a fresh process")
    click.echo(
        "| stage | steps | s/step, every position | s/step, labelled only | CPU-s/step, every | CPU-s/step, labelled | ratio (CPU-s) | same merged weights |"
    )
    click.echo("|---|---|---|---|---|---|---|---|")
    for stage, shipped in runs["labelled"].items():
        every = runs["every"][stage]
        per = {
            name: (run["seconds"] / max(run["steps"], 1), run["cpu_seconds"] / max(run["steps"], 1))
            for name, run in (("every", every), ("labelled", shipped))
        }
        same = _same_weights(Path(every["merged"]), Path(shipped["merged"]))
        click.echo(
            f"| {stage} | {shipped['steps']} | {per['every'][0]:.2f} | {per['labelled'][0]:.2f} | {per['every'][1]:.2f} "
            f"| {per['labelled'][1]:.2f} | x{per['labelled'][1] / per['every'][1]:.2f} | {'yes' if same else 'NO'} |"
        )


@click.command()
@click.option("--set", "overrides", multiple=True, help="training.yaml override KEY=VALUE (repeatable)")
@click.option("--work", type=click.Path(path_type=Path), default=None, help="keep the run here")
@click.option(
    "--compare-positions",
    is_flag=True,
    help="train twice: the LM head on the labelled positions only (shipped) and on every position",
)
@click.option("--positions", type=click.Choice(["labelled", "every"]), default=None, hidden=True)
def main(
    overrides: tuple[str, ...], work: Path | None, compare_positions: bool, positions: str | None
) -> None:
    """Print what each training stage costs with the shipped defaults on the demo corpus."""
    from llm_engineering.configs import load_config
    from llm_engineering.configs.training import TrainingConfig
    from llm_engineering.model.training.flow import train_twin

    config = load_config(TrainingConfig, PROJECT_ROOT / "configs" / "training.yaml", list(overrides))
    work_dir = work or Path(tempfile.mkdtemp(prefix="bench-demo-training-"))
    if positions is not None:  # a child of --compare-positions: the datasets are built; figures as JSON
        click.echo(json.dumps(train_scored(config, work_dir, positions)))
        return
    started = time.perf_counter()
    figures = build_datasets(work_dir)
    dataset_seconds = time.perf_counter() - started
    if compare_positions:
        compare_positions_run(overrides, work_dir)
        return
    started = time.perf_counter()
    plan, results, _ = train_twin(
        config, models_dir=_models_dir(work_dir / "models"), datasets_root=work_dir / "datasets"
    )
    total = time.perf_counter() - started
    epoch_rows = {"voice": None, "sft": figures["instruct_train_rows"], "dpo": config.dpo.max_train_samples}
    click.echo(
        f"demo corpus: {figures['documents']:.0f} documents, datasets built in {dataset_seconds:.0f} s; "
        f"overrides: {' '.join(overrides) or 'none'}"
    )
    click.echo(
        "| stage | rows | steps | s/step | CPU-s/step | cut to max_length | stage s | epoch est. CPU-s |"
    )
    click.echo("|---|---|---|---|---|---|---|---|")
    for result in results:
        settings = getattr(config, result.stage)
        per_step = result.cpu_seconds / max(result.steps, 1)
        batch = settings.per_device_train_batch_size * settings.gradient_accumulation_steps
        rows = epoch_rows.get(result.stage) or result.samples
        epoch_steps = math.ceil(rows / batch) * (settings.num_train_epochs if settings.max_steps < 0 else 1)
        click.echo(
            f"| {result.stage} | {result.samples} | {result.steps} | {result.seconds / max(result.steps, 1):.1f} "
            f"| {per_step:.1f} | {result.metrics.get('cut_share', 0):.0%} | {result.seconds:.0f} "
            f"| {per_step * epoch_steps:.0f} ({epoch_steps:.0f} steps) |"
        )
    click.echo(
        f"whole training (loading, self-play, merging included): {total:.0f} s wall; run {plan.run_dir}"
    )


if __name__ == "__main__":
    main()
