"""Benchmark: SFT and DPO throughput on this machine, and whether the twin learns its author.

``python -m bench.training`` trains a few LoRA steps of the default base model (the packaged
SmolLM2-135M-Instruct) on the LLM Engineer's Handbook datasets (../shared/corpora) and prints,
side by side, SFT with and without packing and DPO: seconds per step, trained (non-padding)
tokens/s, the share of padding among the tokens processed, and peak resident memory. Each
configuration runs in its own process, so each peak is its own.

``python -m bench.training --author-perplexity`` trains an SFT twin on one author's articles
from the shared corpus (two authors) and prints the perplexity of held-out articles (never in
its data) of that author and of the other author, under the base model and under the twin.

Usage: ``python -m bench.training [--steps N] [--max-length N] [--batch N] [--author-perplexity]``
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from llm_engineering.settings import PROJECT_ROOT, get_settings

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "corpora" / "llm-engineers-handbook"
CONFIGS = {
    "sft, packing": {"stage": "sft", "packing": True},
    "sft, no packing": {"stage": "sft", "packing": False},
    "dpo": {"stage": "dpo", "packing": False},
}


def _handbook_datasets(corpus: Path, root: Path) -> None:
    """Save the corpus's handbook-format datasets as dataset versions under ``root``."""
    from llm_engineering.application.datasets.storage import load_handbook_json, save_dataset, to_dataset_dict
    from llm_engineering.domain.dataset import DatasetType

    for dataset_type, name in (
        (DatasetType.INSTRUCTION, "instruct_datasets.json"),
        (DatasetType.PREFERENCE, "preference_datasets.json"),
    ):
        _, samples = load_handbook_json(corpus / name, dataset_type=dataset_type)
        dataset = to_dataset_dict(
            train=[s for s in samples if s.split == "train"],
            test=[s for s in samples if s.split == "test"],
            dataset_type=dataset_type,
        )
        save_dataset(dataset, root=root, dataset_type=dataset_type, card="# handbook\n", manifest={})


def _one(
    name: str, *, steps: int, max_length: int, batch: int, datasets_root: Path, models_dir: Path
) -> dict:
    """Train one configuration in this process; its figures as a dict."""
    from llm_engineering.configs.training import TrainingConfig
    from llm_engineering.model.training.flow import run_dpo, run_sft
    from llm_engineering.model.training.plan import plan_training
    from llm_engineering.model.training.trainer import StageResult

    spec = CONFIGS[name]
    stage = {
        "max_steps": steps,
        "max_length": max_length,
        "per_device_train_batch_size": batch,
        "save_steps": 10_000,
        # Enough rows for the steps, packed or not; tokenizing all 2,250 rows is not what is measured.
        "max_train_samples": steps * batch * 4,
    }
    config = TrainingConfig.model_validate(
        {
            "author": "the author",
            "sft": {**stage, "packing": spec["packing"]},
            "dpo": {**stage, "enabled": spec["stage"] == "dpo"},
            "output": {"merged_dtype": "bfloat16"},
        }
    )
    plan = plan_training(
        config,
        models_dir=models_dir,
        datasets_root=datasets_root,
        default_base_model=get_settings().base_model,
    )
    if spec["stage"] == "sft":
        result = run_sft(plan)
    else:
        # DPO starts from a twin: the base model stands in for the SFT result here.
        sft = StageResult(
            stage="sft",
            adapter=plan.base_folder,
            merged=plan.base_folder,
            samples=0,
            steps=0,
            losses=[],
            seconds=0,
            trained_tokens=0,
            processed_tokens=0,
            tokens_per_second=0,
            peak_memory_mb=0,
        )
        result = run_dpo(plan, sft)
    return {
        "name": name,
        "steps": result.steps,
        "seconds_per_step": result.seconds / max(result.steps, 1),
        "cpu_seconds_per_step": result.cpu_seconds / max(result.steps, 1),
        "tokens_per_cpu_second": result.trained_tokens / result.cpu_seconds if result.cpu_seconds else 0.0,
        "tokens_per_second": result.tokens_per_second,
        "padding_share": result.padding_share,
        "peak_memory_mb": result.peak_memory_mb,
        "loss": [result.loss_first, result.loss_last],
    }


def _author_passages(corpus: Path, *, size: int = 1200) -> dict[str, list[tuple[str, list[str]]]]:
    """Per author: (article link, passages of ~``size`` characters) for each article."""
    articles = json.loads((corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    by_author: dict[str, list[tuple[str, list[str]]]] = {}
    for article in articles:
        content = article["content"]
        text = "\n".join(str(v) for v in content.values()) if isinstance(content, dict) else str(content)
        text = " ".join(text.split())
        passages = [
            text[i : i + size] for i in range(0, len(text), size) if len(text[i : i + size]) > size // 2
        ]
        if passages:
            by_author.setdefault(article["author_full_name"], []).append((article["link"], passages))
    return by_author


def _perplexity(folder: Path, passages: list[str], *, author: str) -> float:
    from llm_engineering.domain.chat import build_messages, render_prompt
    from llm_engineering.model.evaluation.perplexity import reference_nll
    from llm_engineering.model.generation import load_causal_lm

    model, tokenizer = load_causal_lm(folder, dtype="float32")
    prompt = render_prompt(
        tokenizer, build_messages("Write a passage of one of your articles.", author=author)
    )
    result = reference_nll(
        model, tokenizer, prompts=[prompt] * len(passages), references=passages, max_reference_tokens=192
    )
    return result.perplexity


def _author_perplexity(
    corpus: Path, *, steps: int, max_length: int, learning_rate: float, work: Path
) -> None:
    from llm_engineering.application.datasets.storage import save_dataset, to_dataset_dict
    from llm_engineering.configs.training import TrainingConfig
    from llm_engineering.domain.dataset import DatasetType, InstructionSample
    from llm_engineering.domain.types import DataCategory
    from llm_engineering.model.training.flow import train_twin

    by_author = _author_passages(corpus)
    twin, other = sorted(by_author, key=lambda a: len(by_author[a]))  # the author with fewer articles
    rng = random.Random(0)
    for articles in by_author.values():
        rng.shuffle(articles)
    held_out = {a: [p for _, ps in by_author[a][:4] for p in ps][:24] for a in (twin, other)}
    train = [p for _, ps in by_author[twin][4:] for p in ps]
    samples = [
        InstructionSample(
            instruction="Write a passage of one of your articles.",
            answer=p,
            category=DataCategory.ARTICLES,
            extract_id=str(i),
            document_id=str(i),
            source="bench",
        )
        for i, p in enumerate(train)
    ]
    root = work / "datasets"
    dataset = to_dataset_dict(train=samples, test=[], dataset_type=DatasetType.INSTRUCTION)
    save_dataset(
        dataset,
        root=root,
        dataset_type=DatasetType.INSTRUCTION,
        card=f"# Instruction dataset of {twin}\n",
        manifest={},
    )
    config = TrainingConfig.model_validate(
        {
            "author": twin,
            "sft": {
                "max_steps": steps,
                "max_length": max_length,
                "learning_rate": learning_rate,
                "save_steps": 10_000,
            },
            "dpo": {"enabled": False},
        }
    )
    started = time.perf_counter()
    plan, [sft], _ = train_twin(
        config, models_dir=work / "models", datasets_root=root, default_base_model=get_settings().base_model
    )
    click.echo(
        f"SFT twin of {twin}: {len(train)} passages, {sft.summary()} ({time.perf_counter() - started:.0f}s)"
    )
    click.echo(f"{'held-out articles of':<28}{'base':>10}{'twin':>10}{'change':>10}")
    for author in (twin, other):
        base = _perplexity(plan.base_folder, held_out[author], author=twin)
        tuned = _perplexity(sft.merged, held_out[author], author=twin)
        click.echo(
            f"{author + f' ({len(held_out[author])} passages)':<28}{base:>10.2f}{tuned:>10.2f}{tuned / base - 1:>+10.1%}"
        )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--steps", default=10, show_default=True, type=click.IntRange(2, 1000), help="Steps per configuration."
)
@click.option("--max-length", default=256, show_default=True, type=int, help="Tokens per row.")
@click.option("--batch", default=2, show_default=True, type=int, help="per_device_train_batch_size.")
@click.option(
    "--corpus", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_CORPUS, show_default=True
)
@click.option("--learning-rate", default=2e-4, show_default=True, type=float, help="SFT learning rate.")
@click.option(
    "--author-perplexity", is_flag=True, help="Train on one author's articles; compare held-out perplexities."
)
@click.option("--one", type=click.Choice(list(CONFIGS)), default=None, hidden=True)
@click.option("--work", type=click.Path(path_type=Path), default=None, hidden=True)
def main(
    steps: int,
    max_length: int,
    batch: int,
    corpus: Path,
    learning_rate: float,
    author_perplexity: bool,
    one: str | None,
    work: Path | None,
) -> None:
    """Print SFT/DPO throughput, padding and peak memory side by side (or the author perplexity check)."""
    if one is not None:  # a child process: one configuration, figures as JSON on the last line
        figures = _one(
            one,
            steps=steps,
            max_length=max_length,
            batch=batch,
            datasets_root=work / "datasets",
            models_dir=work / "models" / one.replace(", ", "-").replace(" ", "-"),
        )
        click.echo(json.dumps(figures))
        return
    if not (corpus / "instruct_datasets.json").is_file():
        raise click.ClickException(f"no handbook corpus at {corpus}; pass --corpus DIR")
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        work_dir = Path(tmp)
        # The converted base model is shared with the real state folder (converted once).
        get_settings().models_dir.joinpath("base").mkdir(parents=True, exist_ok=True)
        (work_dir / "models").mkdir()
        (work_dir / "models" / "base").symlink_to(
            get_settings().models_dir / "base", target_is_directory=True
        )
        if author_perplexity:
            _author_perplexity(
                corpus, steps=steps, max_length=max_length, learning_rate=learning_rate, work=work_dir
            )
            return
        _handbook_datasets(corpus, work_dir / "datasets")
        rows = []
        for name in CONFIGS:
            click.echo(f"training {name} for {steps} steps ...", err=True)
            process = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.training",
                    "--one",
                    name,
                    "--steps",
                    str(steps),
                    "--max-length",
                    str(max_length),
                    "--batch",
                    str(batch),
                    "--work",
                    str(work_dir),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if process.returncode != 0:
                raise click.ClickException(f"{name} failed:\n{process.stderr[-3000:]}")
            rows.append(json.loads(process.stdout.strip().splitlines()[-1]))
    click.echo(
        f"SmolLM2-135M-Instruct LoRA r=8, batch {batch}, max_length {max_length}, {steps} steps each, fp32 on CPU"
    )
    click.echo(
        f"{'configuration':<18}{'s/step':>8}{'CPU s/step':>11}{'tokens/s':>10}{'tokens/CPU-s':>13}"
        f"{'padding':>9}{'peak MB':>9}  loss first -> last"
    )
    for row in rows:
        first, last = row["loss"]
        click.echo(
            f"{row['name']:<18}{row['seconds_per_step']:>8.1f}{row['cpu_seconds_per_step']:>11.1f}"
            f"{row['tokens_per_second']:>10.1f}{row['tokens_per_cpu_second']:>13.1f}"
            f"{row['padding_share']:>9.1%}{row['peak_memory_mb']:>9.0f}  {first:.3f} -> {last:.3f}"
        )
    packed, unpacked = rows[0], rows[1]
    click.echo(
        f"packing: {packed['tokens_per_cpu_second'] / unpacked['tokens_per_cpu_second']:.2f}x the trained tokens "
        f"per CPU-second, padding {unpacked['padding_share']:.1%} -> {packed['padding_share']:.1%} "
        "(CPU time is the fair comparison on a shared machine; on 2 idle cores wall time is about half of it)"
    )


if __name__ == "__main__":
    main()
