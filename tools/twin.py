"""Talk to the twin and train it outside ZenML.

``python -m tools.twin generate "PROMPT" [--model FOLDER|VERSION] [--author NAME] [--max-tokens N] ...``
streams the answer of the production twin (else the newest DPO twin, else the newest SFT twin,
else the base model: the order serving uses), asked with the same system prompt and chat
template as in training, decoded with the server's default ``Decoding`` and the options given.

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
    help="A model folder or registry version; default: production, newest DPO, newest SFT, base.",
)
@click.option("--author", default=None, help="Whose twin answers (default: the version's author).")
@click.option("--max-tokens", type=click.IntRange(1, 4096), default=None, help="Most answer tokens.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=None, help="0: greedy.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=None, help="Nucleus share.")
@click.option("--repetition-penalty", type=click.FloatRange(1, 3), default=None, help="1: off.")
@click.option("--no-repeat-ngram-size", type=click.IntRange(0, 16), default=None, help="0: off.")
@click.option("--frequency-penalty", type=click.FloatRange(-2, 2), default=None, help="OpenAI's.")
@click.option("--presence-penalty", type=click.FloatRange(-2, 2), default=None, help="OpenAI's.")
@click.option("--seed", type=int, default=None, help="Sampling seed.")
def generate(prompt: str, model: str | None, author: str | None, **overrides: float | int | None) -> None:
    """Stream the twin's answer to PROMPT, decoded as the server decodes (its default Decoding,
    with the options given), by the same runtime as the server's local backend."""
    import asyncio

    from llm_engineering.domain.chat import build_messages
    from llm_engineering.domain.decoding import Decoding
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.model.selection import choose_model
    from llm_engineering.serving.backends import TWIN_MODEL_ID, Finished
    from llm_engineering.serving.errors import APIError
    from llm_engineering.serving.twin_backend import LocalTwinBackend
    from llm_engineering.settings import get_settings

    names = {"max_tokens": "max_new_tokens"}
    given = {names.get(k, k): v for k, v in overrides.items() if v is not None}
    decoding = Decoding.model_validate({**Decoding().model_dump(), **given})
    settings = get_settings()
    registry = ModelRegistry(settings.models_dir)
    try:
        folder, version = choose_model(model, registry=registry, base_model=settings.base_model)
    except (LLMTwinError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    author = author or (version.author if version else None)
    name = version.name if version else str(folder)
    click.echo(f"[{name}, as the twin of {author or 'the author'}]", err=True)

    async def answer() -> tuple[Finished, float]:
        backend = LocalTwinBackend(registry=registry, twin_model=str(folder))
        finished = Finished("stop", 0, 0)
        try:
            await backend.start()  # load first: the figure below is decoding speed
            started = time.perf_counter()
            async for event in backend.stream(TWIN_MODEL_ID, build_messages(prompt, author=author), decoding):
                if isinstance(event, Finished):
                    finished = event
                else:
                    click.echo(event, nl=False)
        finally:
            await backend.close()
        return finished, time.perf_counter() - started

    try:
        finished, seconds = asyncio.run(answer())
    except APIError as exc:
        click.echo(f"\nerror: {exc.message}", err=True)
        sys.exit(1)
    click.echo()
    tokens = finished.completion_tokens
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
    from llm_engineering.model.training.flow import train_twin
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
