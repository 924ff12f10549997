"""Datasets in and out: ``DatasetDict`` building, versioned folders, dataset cards, the Hub, handbook JSON.

Saved layout, one folder per generated version::

    <root>/<dataset_type>/<UTC time>-<content hash>/
        dataset_dict.json, train/, test/     # datasets.save_to_disk; read with datasets.load_from_disk
        README.md                            # the dataset card (counts, filters, a few rows)
        generation.json                      # how it was made: strategy, counts, filters, seconds
    <root>/<dataset_type>/LATEST             # name of the newest version folder

The content hash makes identical datasets recognisable: the same rows are saved once, and a
rerun that makes them again points ``LATEST`` at the existing version. The time orders versions.

**Handbook JSON** (the LLM Engineer's Handbook's export format) is read by
:func:`load_handbook_json`::

    {"id": ..., "test_split_size": 0.1,
     "train": {"articles": {"id": ..., "category": "articles",
                            "samples": [{"id": ..., "instruction": ..., "answer": ...}, ...]}, ...},
     "test": {...}}

with ``{"instruction", "chosen", "rejected"}`` samples for preference datasets. Its own
train/test split is kept.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from llm_engineering.domain.dataset import (
    DATASET_COLUMNS,
    DatasetType,
    InstructionSample,
    PreferenceSample,
    Sample,
    sample_row,
)
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.types import DataCategory

LATEST = "LATEST"
CARD = "README.md"
MANIFEST = "generation.json"


def dataset_features(dataset_type: DatasetType) -> Any:
    """The ``datasets.Features`` of a generated dataset: the type's text columns, ``document_id``
    and ``context`` (a list of passages)."""
    from datasets import Features, Sequence, Value

    columns = DATASET_COLUMNS[DatasetType(dataset_type)]
    return Features(
        {
            **{column: Value("string") for column in columns},
            "document_id": Value("string"),
            "context": Sequence(Value("string")),
        }
    )


def to_dataset_dict(
    *,
    train: Sequence[Sample],
    test: Sequence[Sample],
    dataset_type: DatasetType,
    seed: int = 42,
    validation: Sequence[Sample] | None = None,
) -> Any:
    """A ``datasets.DatasetDict`` with ``train``, ``validation`` (when given) and ``test`` splits.

    Columns: those of the type, then ``document_id`` and ``context``. Rows are shuffled with
    ``seed`` so categories are mixed; empty splits keep their columns.

    Args:
        train: training samples.
        test: test samples.
        dataset_type: decides the columns (``instruction``, ``output`` or ``prompt``, ``chosen``, ``rejected``).
        seed: seed of the row order.
        validation: the dev split's samples (decoding defaults are chosen on it); None: no such split.
    """
    from datasets import Dataset, DatasetDict

    features = dataset_features(dataset_type)
    columns = list(features)
    parts = [
        ("train", train),
        *([("validation", validation)] if validation is not None else []),
        ("test", test),
    ]
    splits = {}
    for name, samples in parts:
        rows = [sample_row(s) for s in samples]
        random.Random(f"{seed}:{name}").shuffle(rows)
        splits[name] = Dataset.from_dict({c: [r[c] for r in rows] for c in columns}, features=features)
    return DatasetDict(splits)


def fingerprint(dataset_dict: Any) -> str:
    """SHA-256 of the rows of every split, in order: the same data, the same fingerprint."""
    digest = hashlib.sha256()
    for name in sorted(dataset_dict):
        digest.update(name.encode())
        for row in dataset_dict[name]:
            digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def _cell(text: str, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def dataset_card(
    dataset_dict: Any,
    *,
    dataset_type: DatasetType,
    title: str,
    split_counts: dict[str, dict[str, int]] | None = None,
    filters: dict[str, int] | None = None,
    details: dict[str, Any] | None = None,
    preview_rows: int = 3,
) -> str:
    """The Markdown dataset card: what it is, counts per split and category, filters, a few rows.

    Args:
        dataset_dict: the dataset.
        dataset_type: instruction or preference.
        title: first heading (e.g. the authors' names).
        split_counts: samples per split and category (default: rows per split only).
        filters: items each quality filter removed.
        details: other facts worth a line each (strategy, extracts, seconds, ...).
        preview_rows: training rows shown.
    """
    columns = DATASET_COLUMNS[DatasetType(dataset_type)]
    lines = [
        f"# {title}",
        "",
        f"A {dataset_type} dataset made by LLM Twin's `generate_datasets` pipeline.",
        "",
    ]
    lines += [f"Columns: {', '.join(f'`{c}`' for c in columns)}.", ""]
    counts = split_counts or {name: {"total": len(ds)} for name, ds in dataset_dict.items()}
    categories = sorted({c for per in counts.values() for c in per if c != "total"})
    header = ["split", *categories, "total"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, per in counts.items():
        lines.append(
            "| "
            + " | ".join([name, *(str(per.get(c, 0)) for c in categories), str(per.get("total", 0))])
            + " |"
        )
    if details:
        lines += ["", "## How it was made", ""]
        lines += [f"- {key}: {value}" for key, value in details.items()]
    if filters:
        lines += ["", "## Quality filters (items removed)", "", "| filter | removed |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in filters.items()]
    train = dataset_dict.get("train")
    if preview_rows and train is not None and len(train):
        lines += ["", f"## First {min(preview_rows, len(train))} training rows", ""]
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in train.select(range(min(preview_rows, len(train)))):
            lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def save_dataset(
    dataset_dict: Any,
    *,
    root: Path,
    dataset_type: DatasetType,
    card: str,
    manifest: dict[str, Any],
    now: datetime | None = None,
) -> Path:
    """Save under a new versioned folder ``<root>/<type>/<time>-<hash>`` and point ``LATEST`` at it.

    A dataset with the same rows as a saved version is not saved again: ``LATEST`` points at
    that version, whose folder is returned.

    Args:
        dataset_dict: the dataset.
        root: the datasets folder (``STATE_DIR/datasets`` by default).
        dataset_type: instruction or preference; names the subfolder.
        card: the Markdown dataset card (saved as README.md).
        manifest: how it was made (saved as generation.json).
        now: the version's time (default: now, UTC).

    Returns:
        The version folder; ``datasets.load_from_disk`` reads it.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    digest = fingerprint(dataset_dict)
    base = Path(root) / str(dataset_type)
    same = _version_with_fingerprint(base, digest)
    if same is not None:  # the same rows again: that version is this one (and training can reuse its run)
        (base / LATEST).write_text(same.name + "\n", encoding="utf-8")
        return same
    folder = base / f"{stamp}-{digest[:10]}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = base / f"{stamp}-{digest[:10]}-{suffix}"
    # One shard per split: datasets writes an empty split as zero shards by default and then
    # cannot read it back.
    dataset_dict.save_to_disk(str(folder), num_shards={name: 1 for name in dataset_dict})
    (folder / CARD).write_text(card, encoding="utf-8")
    (folder / MANIFEST).write_text(
        json.dumps({**manifest, "fingerprint": digest}, indent=2, default=str), encoding="utf-8"
    )
    (base / LATEST).write_text(folder.name + "\n", encoding="utf-8")
    return folder


def saved_fingerprint(folder: Path) -> str | None:
    """The fingerprint a saved version's manifest records; None for a save cut short before it."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("fingerprint")


def _version_with_fingerprint(base: Path, digest: str) -> Path | None:
    """The newest complete saved version whose rows have ``digest``, or None."""
    for folder in sorted(base.glob(f"*-{digest[:10]}*"), reverse=True):
        if saved_fingerprint(folder) == digest:
            return folder
    return None


def latest_dataset(root: Path, dataset_type: DatasetType | str) -> Path | None:
    """The newest saved version of ``dataset_type`` under ``root``, or None."""
    pointer = Path(root) / str(dataset_type) / LATEST
    if not pointer.exists():
        return None
    folder = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return folder if folder.is_dir() else None


def push_dataset(
    dataset_dict: Any, *, repo_id: str, token: str, private: bool = True, card: str | None = None
) -> str:
    """Push to the Hugging Face Hub (with the card as README); returns the dataset's URL."""
    dataset_dict.push_to_hub(repo_id, token=token, private=private)
    if card:
        from huggingface_hub import HfApi

        HfApi(token=token).upload_file(
            path_or_fileobj=card.encode("utf-8"), path_in_repo=CARD, repo_id=repo_id, repo_type="dataset"
        )
    return f"https://huggingface.co/datasets/{repo_id}"


# -- handbook JSON -----------------------------------------------------------------------


class HandbookFormatError(LLMTwinError):
    """A handbook JSON dataset does not have the expected shape; the message says where."""


class _HandbookInstruction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    instruction: str
    answer: str


class _HandbookPreference(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    instruction: str
    chosen: str
    rejected: str


def _detect_type(data: dict[str, Any]) -> DatasetType | None:
    for split in ("train", "test"):
        for section in (data.get(split) or {}).values():
            for sample in (section or {}).get("samples") or []:
                if isinstance(sample, dict):
                    return DatasetType.PREFERENCE if "chosen" in sample else DatasetType.INSTRUCTION
    return None


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes: part of the cache key of a step that reads the file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_handbook_json(
    path: Path, *, dataset_type: DatasetType | None = None, expected_digest: str | None = None
) -> tuple[DatasetType, list[Sample]]:
    """Samples of a handbook-format JSON dataset, each keeping its train or test split.

    Args:
        path: the JSON file.
        dataset_type: the expected type; None detects it from the samples.
        expected_digest: the :func:`file_digest` the caller planned with (None: not checked).

    Returns:
        The dataset type and the samples.

    Raises:
        HandbookFormatError: not the handbook format, an unknown category, a malformed sample,
            another type than ``dataset_type``, or content other than ``expected_digest``.
    """
    try:
        raw = Path(path).read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HandbookFormatError(f"{path}: cannot read JSON: {exc}") from exc
    if expected_digest is not None and hashlib.sha256(raw).hexdigest() != expected_digest:
        raise HandbookFormatError(f"{path}: changed after the run was planned; run it again")
    if not isinstance(data, dict) or not any(isinstance(data.get(s), dict) for s in ("train", "test")):
        raise HandbookFormatError(f'{path}: expected an object with "train" and "test" sections')
    found = _detect_type(data)
    if found is None:
        raise HandbookFormatError(f"{path}: holds no samples")
    if dataset_type is not None and found != DatasetType(dataset_type):
        raise HandbookFormatError(f"{path}: holds a {found} dataset, not a {dataset_type} one")
    model = _HandbookPreference if found == DatasetType.PREFERENCE else _HandbookInstruction
    samples: list[Sample] = []
    for split in ("train", "test"):
        for key, section in (data.get(split) or {}).items():
            where = f"{path}: {split}.{key}"
            if not isinstance(section, dict) or not isinstance(section.get("samples"), list):
                raise HandbookFormatError(f'{where}: expected {{"category", "samples": [...]}}')
            try:
                category = DataCategory(section.get("category") or key)
            except ValueError:
                raise HandbookFormatError(
                    f"{where}: unknown category {section.get('category') or key!r} "
                    f"(expected one of {', '.join(c.value for c in DataCategory)})"
                ) from None
            for position, raw in enumerate(section["samples"]):
                try:
                    item = model.model_validate(raw)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    raise HandbookFormatError(
                        f"{where}.samples[{position}]: {'.'.join(map(str, first['loc']))}: {first['msg']}"
                    ) from None
                sample_id = (
                    item.id or hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:32]
                )
                common = {
                    "instruction": item.instruction,
                    "category": category,
                    "extract_id": sample_id,
                    "document_id": sample_id,
                    "source": "handbook",
                    "split": split,
                }
                if isinstance(item, _HandbookPreference):
                    samples.append(PreferenceSample(**common, chosen=item.chosen, rejected=item.rejected))
                else:
                    samples.append(InstructionSample(**common, answer=item.answer))
    return found, samples
