"""Benchmark: answers/s of the evaluation's generation, batched vs one at a time (``poe bench-evaluation``).

Loads the base model (the packaged SmolLM2-135M-Instruct, converted once under
``STATE_DIR/models/base``; or ``--model FOLDER``), answers the same instructions greedily
with the evaluation's own code path (:func:`~llm_engineering.model.evaluation.answer.answer_arm`:
the shared chat template, the generator serving uses, float32), once with batch size 1 and
once per larger batch size, and prints answers/s and generated tokens/s side by side with
the ratio to batch size 1, plus the share of answers identical to the unbatched ones (the
generator is batch-invariant, so it should read 100%).

Usage: ``python -m bench.evaluation [--model FOLDER] [--questions N] [--max-new-tokens N] [--batch-sizes 1,8,16]``
"""

from __future__ import annotations

import os
from pathlib import Path

import click

QUESTIONS = [
    "What is a feature store, and when is it worth having one?",
    "How should I choose a chunk size for retrieval?",
    "Why were my RAG answers wrong?",
    "Can I fine-tune a language model on a laptop?",
    "How do I evaluate a model that writes like me?",
    "What makes a data pipeline idempotent?",
    "How do I serve a small model cheaply?",
    "What belongs in a data contract?",
    "Give me a checklist before fine-tuning.",
    "Why ship on a Friday, or not?",
    "Are notebooks good for production code?",
    "What is the cheapest useful evaluation?",
    "Why is GPU utilisation not the goal?",
    "How do embeddings capture meaning?",
    "What is LoRA in one paragraph?",
    "How do I know my retrieval is good enough?",
]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model folder (default: the packaged SmolLM2 base, converted once).",
)
@click.option("--questions", type=click.IntRange(1, len(QUESTIONS)), default=16, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1, 1024), default=48, show_default=True)
@click.option(
    "--batch-sizes", default="1,8,16", show_default=True, help="Comma-separated; 1 is always run first."
)
def main(model_dir: Path | None, questions: int, max_new_tokens: int, batch_sizes: str) -> None:
    """Answer the same questions one at a time and in batches; print answers/s side by side."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from llm_engineering.configs.evaluating import AnswerGenerationConfig
    from llm_engineering.model.base_model import resolve_base_model
    from llm_engineering.model.evaluation.answer import answer_arm, load_folder_generator
    from llm_engineering.model.evaluation.results import EvalSample
    from llm_engineering.settings import get_settings

    settings = get_settings()
    folder = model_dir or resolve_base_model(settings.base_model, models_dir=settings.models_dir)
    generator = load_folder_generator(folder, AnswerGenerationConfig())
    samples = [EvalSample(instruction=q, reference="") for q in QUESTIONS[:questions]]
    sizes = sorted({1, *(int(s) for s in batch_sizes.split(",") if s.strip())})
    click.echo(
        f"model {folder} ({type(generator).__name__}), {questions} questions, greedy, "
        f"max_new_tokens {max_new_tokens}, torch threads {torch.get_num_threads()}"
    )
    answer_arm(
        generator,
        samples[:2],
        author="Maya Lindqvist",
        arm="bare",
        generation=AnswerGenerationConfig(max_new_tokens=4, batch_size=2),
    )  # warm-up
    baseline: tuple[float, list[str]] | None = None
    click.echo(
        f"{'batch':>5}  {'seconds':>8}  {'answers/s':>9}  {'tokens/s':>8}  {'x batch 1':>9}  {'same as batch 1':>15}"
    )
    for size in sizes:
        generation = AnswerGenerationConfig(max_new_tokens=max_new_tokens, batch_size=size)
        answers, seconds = answer_arm(
            generator, samples, author="Maya Lindqvist", arm="bare", generation=generation
        )
        texts = [a.text for a in answers]
        rate = len(answers) / seconds
        tokens = sum(a.completion_tokens for a in answers) / seconds
        if baseline is None:
            baseline = (rate, texts)
        same = sum(a == b for a, b in zip(texts, baseline[1], strict=True)) / len(texts)
        click.echo(
            f"{size:>5}  {seconds:>8.1f}  {rate:>9.2f}  {tokens:>8.1f}  {rate / baseline[0]:>8.2f}x  {same:>14.0%}"
        )


if __name__ == "__main__":
    main()
