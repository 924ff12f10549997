"""Model fixtures: a tiny locally built causal LM and the converted packaged SmolLM2."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer Llama with a ChatML byte-level tokenizer (fp32, ~50k parameters), built once."""
    from tests.tiny_model import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged SmolLM2-135M-Instruct converted to a bf16 Hugging Face folder (~15 s, once)."""
    from llm_engineering.model.base_model import resolve_base_model

    return resolve_base_model(None, models_dir=tmp_path_factory.mktemp("smollm2-models"))


TOPICS = ["feature stores", "vector databases", "LoRA adapters", "data pipelines", "evaluation", "RAG"]


def save_training_datasets(root: Path, *, author: str = "Ada Lovelace", rows: int = 8) -> tuple[Path, Path]:
    """Save a small instruction and a small preference dataset version under ``root`` (the
    dataset pipeline's layout and LATEST pointers); returns their folders."""
    from llm_engineering.application.datasets.storage import dataset_card, save_dataset, to_dataset_dict
    from llm_engineering.domain.dataset import DatasetType, InstructionSample, PreferenceSample
    from llm_engineering.domain.types import DataCategory

    def common(i: int) -> dict:
        topic = TOPICS[i % len(TOPICS)]
        return {
            "instruction": f"Write a short note on {topic} ({i}).",
            "category": DataCategory.ARTICLES,
            "extract_id": f"e{i}",
            "document_id": f"d{i}",
            "source": "test",
        }

    def answer(i: int) -> str:
        return f"In my experience, {TOPICS[i % len(TOPICS)]} pay off when you measure first. Note {i}."

    instruction = [InstructionSample(**common(i), answer=answer(i)) for i in range(rows)]
    preference = [
        PreferenceSample(**common(i), chosen=answer(i), rejected="It depends. There are many factors.")
        for i in range(rows)
    ]
    folders = []
    for dataset_type, samples in (
        (DatasetType.INSTRUCTION, instruction),
        (DatasetType.PREFERENCE, preference),
    ):
        dataset = to_dataset_dict(train=samples[:-2], test=samples[-2:], dataset_type=dataset_type)
        card = dataset_card(
            dataset, dataset_type=dataset_type, title=f"{dataset_type.capitalize()} dataset of {author}"
        )
        folders.append(save_dataset(dataset, root=root, dataset_type=dataset_type, card=card, manifest={}))
    return folders[0], folders[1]
