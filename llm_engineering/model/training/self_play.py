"""Self-play: the SFT twin writes the preference dataset's ``rejected`` answers before DPO.

The dataset pipeline's ``model`` strategy (:func:`generate_rejected_answers` with a local
transformers client) answers each instruction with the SFT twin; the author's text stays
``chosen``. DPO then moves the twin away from its own current answers towards the author's.
The twin is asked exactly as it was trained and will be served: its system prompt, the
shared chat template. The regenerated dataset is saved in the run folder, so the dataset
root's ``LATEST`` keeps pointing at the pipeline's own version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.application.datasets.llm_generation import generate_rejected_answers
from llm_engineering.application.datasets.ports import ChatMessage
from llm_engineering.application.datasets.storage import dataset_card, save_dataset
from llm_engineering.domain.dataset import DatasetType, InstructionSample, sample_row
from llm_engineering.domain.types import DataCategory
from llm_engineering.infrastructure.llm.local import LocalTransformersClient
from llm_engineering.model.chat import build_messages, render_prompt
from llm_engineering.model.training.data import TrainingDataError, load_dataset_version


class TwinClient(LocalTransformersClient):
    """The local client, asking the twin with its own system prompt (not the base model's default)."""

    def __init__(self, model_path: str | Path, *, author: str | None, **kwargs: Any) -> None:
        super().__init__(model_path, **kwargs)
        self.author = author

    def prompt_text(self, messages: Sequence[ChatMessage]) -> str:
        tokenizer, _ = self._load()
        if messages and messages[0]["role"] != "system":
            *history, last = messages
            messages = build_messages(last["content"], author=self.author, history=history)
        return render_prompt(tokenizer, messages)


def regenerate_rejected(
    preference_folder: Path,
    *,
    model_folder: Path,
    author: str | None,
    output_root: Path,
    max_tokens: int = 128,
    limit: int | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> Path:
    """A new preference dataset version whose training rows' ``rejected`` the twin wrote.

    Args:
        preference_folder: the preference dataset version to start from (prompts, chosen).
        model_folder: the SFT twin's merged folder.
        author: whose twin.
        output_root: where the new version is saved (``<output_root>/preference/<version>``).
        max_tokens: most tokens per answer.
        limit: regenerate only the first N training rows (the rows DPO will use).
        device: torch device.
        seed: sampling seed.

    Raises:
        TrainingDataError: the twin answered no instruction.
    """
    dataset = load_dataset_version(preference_folder, dataset_type=DatasetType.PREFERENCE)
    train = dataset["train"]
    if limit is not None:
        train = train.select(range(min(limit, len(train))))
    samples = [
        InstructionSample(
            instruction=row["prompt"],
            answer=row["chosen"],
            # Categories are not columns of a saved dataset: the rows no longer know theirs.
            category=DataCategory.ARTICLES,
            extract_id=hashlib.sha256(row["prompt"].encode()).hexdigest()[:32],
            document_id=hashlib.sha256(row["chosen"].encode()).hexdigest()[:32],
            source=f"dataset:{preference_folder.name}",
        )
        for row in train
    ]
    client = TwinClient(model_folder, author=author, device=device, seed=seed, default_max_tokens=max_tokens)
    try:
        result = generate_rejected_answers(
            samples, client=client, generic=False, max_tokens=max_tokens, temperature=0.0
        )
    finally:
        client.close()
    if not result.samples:
        raise TrainingDataError(
            f"self-play: the SFT twin answered none of {len(samples)} instructions "
            f"({dict(result.failures.counts)}; first: {result.failures.examples[:1]}); check {model_folder} "
            "or turn self_play off"
        )
    from datasets import Dataset, DatasetDict

    rows = [sample_row(s) for s in result.samples]
    regenerated = DatasetDict(
        {
            "train": Dataset.from_list(rows, features=dataset["train"].features),
            "test": dataset["test"],
        }
    )
    card = dataset_card(
        regenerated,
        dataset_type=DatasetType.PREFERENCE,
        title=f"Preference dataset of {author or 'the author'} (self-play)",
        details={
            "from": str(preference_folder),
            "rejected": f"written by the SFT twin {model_folder}",
            "failures": dict(result.failures.counts),
            "seconds": round(result.seconds, 1),
        },
    )
    return save_dataset(
        regenerated,
        root=output_root,
        dataset_type=DatasetType.PREFERENCE,
        card=card,
        manifest={
            "strategy": "self_play",
            "from": str(preference_folder),
            "model": str(model_folder),
            "samples": {"train": len(rows), "test": len(dataset["test"])},
            "failures": dict(result.failures.counts),
            "seconds": round(result.seconds, 3),
        },
    )
