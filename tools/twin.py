"""Talk to the twin and train it outside ZenML.

``python -m tools.twin generate "PROMPT" [--model FOLDER|VERSION] [--author NAME] [--max-tokens N]``
streams the answer of the production twin (else the newest twin, else the base model), asked
with the same system prompt and chat template as in training.

``accelerate launch [--num_processes N] -m tools.twin train [--config PATH] [--set KEY=VALUE]``
runs the training stages without ZenML, for multi-GPU data parallelism (configs/training_gpu.yaml).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from llm_engineering.domain.exceptions import LLMTwinError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The twin from the command line."""


@cli.command()
@click.argument("prompt")
@click.option(
    "--model",
    default=None,
    help="A model folder or registry version; default: production, newest twin, base.",
)
@click.option("--author", default=None, help="Whose twin answers (default: the version's author).")
@click.option(
    "--max-tokens", default=256, show_default=True, type=click.IntRange(1, 4096), help="Most answer tokens."
)
@click.option("--temperature", default=0.0, show_default=True, type=click.FloatRange(0, 2), help="0: greedy.")
def generate(prompt: str, model: str | None, author: str | None, max_tokens: int, temperature: float) -> None:
    """Stream the twin's answer to PROMPT."""
    from llm_engineering.model.chat import build_messages
    from llm_engineering.model.generation import load_causal_lm, stream_answer
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.model.selection import choose_model
    from llm_engineering.settings import get_settings

    settings = get_settings()
    try:
        folder, version = choose_model(
            model, registry=ModelRegistry(settings.models_dir), base_model=settings.base_model
        )
        loaded, tokenizer = load_causal_lm(folder)
    except (LLMTwinError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    author = author or (version.author if version else None)
    name = version.name if version else str(folder)
    click.echo(f"[{name}, as the twin of {author or 'the author'}]", err=True)
    started, pieces = time.perf_counter(), []
    for piece in stream_answer(
        loaded,
        tokenizer,
        build_messages(prompt, author=author),
        max_new_tokens=max_tokens,
        temperature=temperature,
    ):
        pieces.append(piece)
        click.echo(piece, nl=False)
    click.echo()
    seconds = time.perf_counter() - started
    tokens = len(tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
    click.echo(
        f"[{tokens} tokens in {seconds:.1f}s, {tokens / seconds if seconds else 0:.1f} tokens/s]", err=True
    )


@cli.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Training YAML (default: configs/training.yaml).",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
def train(config_path: Path | None, overrides: tuple[str, ...]) -> None:
    """Run SFT, self-play and DPO in this process (or each `accelerate launch` process), then register."""
    from llm_engineering.configs import load_config
    from llm_engineering.configs.training import TrainingConfig
    from llm_engineering.model.training.stages import train_twin
    from llm_engineering.settings import PROJECT_ROOT, get_settings

    settings = get_settings()
    try:
        config = load_config(
            TrainingConfig, config_path or PROJECT_ROOT / "configs" / "training.yaml", overrides
        )
        plan, results, versions = train_twin(
            config,
            models_dir=settings.models_dir,
            datasets_root=settings.state_dir / "datasets",
            default_base_model=settings.base_model,
        )
    except LLMTwinError as exc:
        click.echo(f"error, nothing was trained: {exc}", err=True)
        sys.exit(2)
    for result in results:
        click.echo(result.summary())
    if versions:
        click.echo(f"run {plan.run}: registered {', '.join(v.name for v in versions)}")


if __name__ == "__main__":
    cli()
