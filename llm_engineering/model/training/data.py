"""Datasets for training: pick a version, check its columns and ``max_length``.

The rows become conversations in :mod:`.fit` (the served prompt, fitted to ``max_length``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from llm_engineering.application.datasets.storage import CARD, LATEST, latest_dataset
from llm_engineering.domain.chat import build_messages, render_prompt
from llm_engineering.domain.dataset import DATASET_COLUMNS, DatasetType
from llm_engineering.domain.exceptions import LLMTwinError


class TrainingDataError(LLMTwinError):
    """A dataset cannot be trained on; the message names the fix."""


_PIPELINE_HINT = {
    DatasetType.INSTRUCTION: "poe run-generate-instruct-datasets-pipeline",
    DatasetType.PREFERENCE: "poe run-generate-preference-datasets-pipeline",
}


def resolve_dataset(selected: Path | None, *, root: Path, dataset_type: DatasetType) -> Path:
    """The dataset version folder to train on: ``selected`` (a folder, or a version name under
    ``root/<type>/``) or, when None, the newest version (``root/<type>/LATEST``).

    Raises:
        TrainingDataError: no version exists yet, or ``selected`` is no saved dataset.
    """
    if selected is None:
        found = latest_dataset(root, dataset_type)
        if found is None:
            raise TrainingDataError(
                f"no {dataset_type} dataset yet (nothing at {Path(root) / str(dataset_type) / LATEST}): "
                f"build one with `{_PIPELINE_HINT[DatasetType(dataset_type)]}`, or set "
                f"datasets.{dataset_type} to a dataset folder"
            )
        return found
    folder = Path(selected).expanduser()
    if not folder.is_absolute() and not folder.exists():
        folder = Path(root) / str(dataset_type) / folder
    if not (folder / "dataset_dict.json").is_file():
        raise TrainingDataError(
            f"datasets.{dataset_type}: {selected} is not a saved dataset (no dataset_dict.json); "
            f"give a version folder under {Path(root) / str(dataset_type)} or leave it empty for the newest"
        )
    return folder


def load_dataset_version(folder: Path, *, dataset_type: DatasetType) -> Any:
    """The ``DatasetDict`` in ``folder``, its train split checked for the columns of ``dataset_type``.

    Raises:
        TrainingDataError: a missing column, or an empty training split.
    """
    from datasets import load_from_disk

    dataset = load_from_disk(str(folder))
    if "train" not in dataset:
        raise TrainingDataError(f"{folder}: no train split (splits: {', '.join(dataset)})")
    expected = DATASET_COLUMNS[DatasetType(dataset_type)]
    missing = [c for c in expected if c not in dataset["train"].column_names]
    if missing:
        raise TrainingDataError(
            f"{folder}: a {dataset_type} dataset needs the columns {', '.join(expected)}; missing "
            f"{', '.join(missing)} (it has {', '.join(dataset['train'].column_names)}). "
            f"Point datasets.{dataset_type} at a {dataset_type} dataset, or rebuild it with "
            f"`{_PIPELINE_HINT[DatasetType(dataset_type)]}`"
        )
    if len(dataset["train"]) == 0:
        raise TrainingDataError(
            f"{folder}: the train split is empty; rebuild the dataset with more documents"
        )
    return dataset


_CARD_TITLE = re.compile(r"^# \w+ dataset of (?P<authors>.+)$", re.MULTILINE)


def author_of(folder: Path) -> str | None:
    """The author named in a dataset card's title, when the card names exactly one."""
    card = Path(folder) / CARD
    if not card.is_file():
        return None
    match = _CARD_TITLE.search(card.read_text(encoding="utf-8"))
    if not match:
        return None
    authors = [a.strip() for a in match.group("authors").split(",") if a.strip()]
    return authors[0] if len(authors) == 1 else None


def check_max_length(tokenizer: Any, *, author: str | None, max_length: int, section: str) -> int:
    """Tokens of the prompt scaffolding (system prompt and chat markup around an empty question).

    Raises:
        TrainingDataError: ``max_length`` leaves fewer than 16 tokens for the question and answer.
    """
    scaffold = len(
        tokenizer(render_prompt(tokenizer, build_messages("", author=author)), add_special_tokens=False)[
            "input_ids"
        ]
    )
    if max_length < scaffold + 16:
        raise TrainingDataError(
            f"{section}.max_length is {max_length} tokens, but the system prompt and chat markup alone take "
            f"{scaffold}: raise {section}.max_length to at least {scaffold + 16} (256 or more is sensible)"
        )
    return scaffold
