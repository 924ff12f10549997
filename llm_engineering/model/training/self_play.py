"""Self-play: the SFT twin writes the preference dataset's ``rejected`` answers before DPO.

Each training row's prompt is asked to the SFT twin exactly as it was trained and will be
served (its system prompt, the row's passages when it has them, the shared chat template), and
the twin's own *sampled* answer becomes ``rejected``; the author's text stays ``chosen``. DPO then
moves the twin away from what it writes today towards what its author wrote. The caller passes
the generator in (``flow.run_self_play`` loads the SFT twin with
:func:`~llm_engineering.model.generation.load_generator`, ONNX Runtime on the CPU by default), as
evaluation is handed its own; decoding is the shared
:class:`~llm_engineering.domain.decoding.Decoding`. The regenerated
dataset is saved in the run folder, so the dataset root's ``LATEST`` keeps pointing at the
pipeline's own version.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from llm_engineering.application.datasets.storage import dataset_card, save_dataset
from llm_engineering.domain.chat import build_messages
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.training.data import TrainingDataError, load_dataset_version

if TYPE_CHECKING:
    from llm_engineering.model.generation import TextGenerator

SELF_PLAY_TEMPERATURE = 0.8
"""The temperature used when the shared decoding is greedy: ``rejected`` is a sample of the twin,
not its single most likely answer."""


def self_play_decoding(decoding: Decoding | None, *, max_tokens: int, seed: int) -> Decoding:
    """The shared decoding with self-play's token budget and seed, sampled (never greedy)."""
    base = decoding or Decoding()
    update: dict = {"max_new_tokens": max_tokens, "seed": seed}
    if base.greedy:
        update["temperature"] = SELF_PLAY_TEMPERATURE
    return base.model_copy(update=update)


def regenerate_rejected(
    preference_folder: Path,
    *,
    generator: TextGenerator,
    model_folder: Path,
    author: str | None,
    output_root: Path,
    max_tokens: int = 128,
    limit: int | None = None,
    seed: int = 0,
    decoding: Decoding | None = None,
    batch_size: int = 8,
) -> Path:
    """A new preference dataset version whose training rows' ``rejected`` the twin wrote.

    Args:
        preference_folder: the preference dataset version to start from (prompts, chosen).
        generator: the SFT twin, loaded by the caller (closed by the caller too).
        model_folder: the SFT twin's merged folder (recorded in the card and manifest).
        author: whose twin.
        output_root: where the new version is saved (``<output_root>/preference/<version>``).
        max_tokens: most tokens per answer.
        limit: regenerate only the first N training rows (the rows DPO will use).
        seed: sampling seed.
        decoding: the shared decoding (None: ``Decoding()``); sampled at
            :data:`SELF_PLAY_TEMPERATURE` when it is greedy.
        batch_size: answers decoded together.

    Raises:
        TrainingDataError: the twin answered no instruction.
    """
    from datasets import Dataset, DatasetDict

    dataset = load_dataset_version(preference_folder, dataset_type=DatasetType.PREFERENCE)
    train = dataset["train"]
    if limit is not None:
        train = train.select(range(min(limit, len(train))))
    rows = [dict(row) for row in train]
    conversations = [
        build_messages(row["prompt"], author=author, context=row.get("context") or ()) for row in rows
    ]
    sampling = self_play_decoding(decoding, max_tokens=max_tokens, seed=seed)
    started = time.perf_counter()
    answers = generator.generate(conversations, sampling, batch_size=batch_size)
    seconds = time.perf_counter() - started
    failures: Counter[str] = Counter()
    kept = []
    for row, answer in zip(rows, answers, strict=True):
        if not answer.text:
            failures["empty answer"] += 1
        elif answer.text == row["chosen"].strip():
            failures["same as chosen"] += 1
        else:
            kept.append({**row, "rejected": answer.text})
    if not kept:
        raise TrainingDataError(
            f"self-play: the SFT twin answered none of {len(rows)} instructions ({dict(failures)}); "
            f"check {model_folder} or turn self_play off"
        )
    regenerated = DatasetDict(
        {"train": Dataset.from_list(kept, features=dataset["train"].features), "test": dataset["test"]}
    )
    card = dataset_card(
        regenerated,
        dataset_type=DatasetType.PREFERENCE,
        title=f"Preference dataset of {author or 'the author'} (self-play)",
        details={
            "from": str(preference_folder),
            "rejected": f"sampled from the SFT twin {model_folder} ({generator.runtime})",
            "decoding": sampling.model_dump(mode="json"),
            "failures": dict(failures),
            "seconds": round(seconds, 1),
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
            "runtime": generator.runtime,
            "decoding": sampling.model_dump(mode="json"),
            "samples": {"train": len(kept), "test": len(dataset["test"])},
            "failures": dict(failures),
            "seconds": round(seconds, 3),
        },
    )
