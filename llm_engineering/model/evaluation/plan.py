"""Planning an evaluation: resolve the versions, the dataset and the author, and refuse bad input.

:func:`plan_evaluation` runs before any model is loaded and stops a run that cannot succeed,
with a message that says what is missing and how to fix it: no model version yet, an unknown
version, no dataset, an empty test split, no author, a judge required without an endpoint.

It also holds the evaluation to **one held-out document set**: the documents of the test
samples must be disjoint from everything any evaluated version trained on (the train and
validation rows of every dataset version recorded with it, instruction and preference
alike). An overlap stops the run with an error naming the version, the dataset and the
documents, since a twin scored on text it learned from would be scored on memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_engineering.application.datasets.storage import latest_dataset
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.model.evaluation.results import EvalSample
from llm_engineering.model.registry import ModelRegistry, ModelVersion

if TYPE_CHECKING:  # the caller hands the settings in; this module reads none itself
    from llm_engineering.settings import Settings

TRAINING_FIX = "run `poe run-training-pipeline` first (it registers base, <run>-sft and <run>-dpo)"
DATASET_FIX = "run `poe run-generate-instruct-datasets-pipeline` first, or set dataset: PATH"
ANSWER_COLUMNS = (("instruction", "output"), ("prompt", "chosen"))


class EvaluationInputError(LLMTwinError):
    """The evaluation cannot start: the message says what is missing and how to fix it."""


@dataclass
class EvaluationPlan:
    """What an evaluation will run on.

    Attributes:
        versions: the versions to answer with, in order (base, SFT, DPO, then production).
        dataset: the instruction dataset folder: the config's, else the one the newest trained
            version was trained on, else the newest saved one.
        samples: the samples used (of the ``split`` split).
        author_texts: the author's training-split answers.
        author: whose twin it is.
        production: the production version's name, if any.
        judge: whether the LLM judge will score.
        split: the split the samples come from (``test``; ``validation`` when choosing decoding).
        checks: what was verified about the held-out documents, one line each.
    """

    versions: list[ModelVersion]
    dataset: Path
    samples: list[EvalSample]
    author_texts: list[str]
    author: str
    production: str | None
    judge: bool
    split: str = "test"
    checks: list[str] = field(default_factory=list)


def _versions(config: EvaluatingConfig, registry: ModelRegistry) -> tuple[list[ModelVersion], str | None]:
    if not registry.versions():
        raise EvaluationInputError(f"no model version yet in {registry.root}: {TRAINING_FIX}")
    if config.versions:
        chosen = [registry.get(name) for name in config.versions]
    else:
        base = next((v for v in registry.versions("base") if v.name == "base"), None) or registry.latest(
            "base"
        )
        chosen = [v for v in (base, registry.latest("sft"), registry.latest("dpo")) if v is not None]
    production = registry.production()
    if production is not None and production.name not in {v.name for v in chosen}:
        chosen.append(production)
    unique = list({v.name: v for v in chosen}.values())
    missing = [v.name for v in unique if not Path(v.folder).is_dir()]
    if missing:
        raise EvaluationInputError(
            f"model folder missing for version(s) {', '.join(missing)}: {TRAINING_FIX}"
        )
    return unique, production.name if production else None


def _columns(split: Any, folder: Path) -> tuple[str, str]:
    for instruction, answer in ANSWER_COLUMNS:
        if {instruction, answer} <= set(split.column_names):
            return instruction, answer
    raise EvaluationInputError(
        f"{folder}: expected columns instruction/output or prompt/chosen, found {split.column_names}"
    )


def _load(folder: Path) -> Any:
    from datasets import load_from_disk

    try:
        return load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise EvaluationInputError(f"{folder}: not a saved dataset ({exc}); {DATASET_FIX}") from None


def load_dataset_samples(
    folder: Path, *, limit: int, split: str = "test"
) -> tuple[list[EvalSample], list[str]]:
    """The first ``limit`` samples of one split of a saved dataset, and the author's training-split answers.

    Raises:
        EvaluationInputError: not a saved dataset, no such split, or an empty one.
    """
    dataset = _load(folder)
    if split not in dataset or len(dataset[split]) == 0:
        fix = (
            "Rebuild the dataset with a larger split.test_size (or more documents)"
            if split == "test"
            else "Rebuild the dataset with a validation split (documents held out for choosing settings)"
        )
        raise EvaluationInputError(
            f"the {split} split of {folder} is empty or missing: nothing to evaluate on. {fix}"
        )
    rows_split = dataset[split]
    instruction, answer = _columns(rows_split, folder)
    rows = rows_split.select(range(min(limit, len(rows_split))))
    has_document = "document_id" in rows_split.column_names
    samples = [
        EvalSample(
            instruction=r[instruction],
            reference=r[answer],
            document_id=r["document_id"] if has_document else None,
        )
        for r in rows
    ]
    train_texts: list[str] = []
    if "train" in dataset and len(dataset["train"]):
        _, train_answer = _columns(dataset["train"], folder)
        train_texts = list(dict.fromkeys(dataset["train"][train_answer]))
    return samples, train_texts


def _trained_on(versions: Sequence[ModelVersion], datasets_root: Path) -> Path | None:
    """The instruction dataset the newest trained version learned from, when it is still on disk."""
    for version in sorted(versions, key=lambda v: v.created_at, reverse=True):
        name = version.datasets.get("instruction")
        if name and (Path(datasets_root) / "instruction" / name).is_dir():
            return Path(datasets_root) / "instruction" / name
    return None


def _folded(text: str) -> str:
    return " ".join(text.split()).lower()


def check_held_out(
    samples: Sequence[EvalSample], versions: Sequence[ModelVersion], *, datasets_root: Path, dataset: Path
) -> list[str]:
    """Refuse test samples whose documents any evaluated version trained on; returns what was checked.

    Documents are compared by ``document_id`` where both datasets carry it, else by the
    reference text itself (a test reference that is a training answer).

    Raises:
        EvaluationInputError: an overlap, naming the version, the dataset and the documents.
    """
    test_ids = {s.document_id for s in samples if s.document_id}
    test_texts = {_folded(s.reference): s.document_id or s.instruction for s in samples}
    checks: list[str] = []
    for version in versions:
        for kind, name in sorted(version.datasets.items()):
            folder = Path(name) if Path(name).is_absolute() else Path(datasets_root) / kind / name
            if not folder.is_dir():
                checks.append(f"{version.name}: {kind} dataset {name} not on disk; its documents not checked")
                continue
            trained = _load(folder)
            for split in (s for s in trained if s != "test" and len(trained[s])):
                rows = trained[split]
                _, answer = _columns(rows, folder)
                if test_ids and "document_id" in rows.column_names:
                    overlap = sorted(test_ids & set(rows["document_id"]))
                else:
                    overlap = sorted(
                        str(test_texts[t]) for t in {_folded(a) for a in rows[answer]} & set(test_texts)
                    )
                if overlap:
                    shown = ", ".join(overlap[:5]) + (
                        f" and {len(overlap) - 5} more" if len(overlap) > 5 else ""
                    )
                    raise EvaluationInputError(
                        f"held-out documents overlap training data: version {version.name} trained on "
                        f"{kind} dataset {name} (split {split}), which holds test document(s) of {dataset}: "
                        f"{shown}. Evaluate on the test split of the dataset the versions were trained on, "
                        "or rebuild both datasets with one held-out document set"
                    )
            checks.append(f"{version.name}: {kind} dataset {name} shares no document with the test samples")
    return checks


def plan_evaluation(
    config: EvaluatingConfig,
    *,
    registry: ModelRegistry,
    datasets_root: Path,
    judge_configured: bool,
    split: str = "test",
) -> EvaluationPlan:
    """Resolve and check every input of an evaluation; nothing is loaded but the datasets' rows.

    Args:
        config: the validated config.
        registry: the model registry.
        datasets_root: where saved datasets live (``STATE_DIR/datasets``).
        judge_configured: whether an OpenAI-compatible endpoint is configured.
        split: ``test`` for an evaluation; ``validation`` to choose settings without touching the test split.

    Raises:
        EvaluationInputError: a clear message naming what is missing, or the overlapping documents.
        UnknownModelVersion: a version named in the config is not in the registry.
    """
    versions, production = _versions(config, registry)
    folder = (
        config.dataset or _trained_on(versions, datasets_root) or latest_dataset(datasets_root, "instruction")
    )
    if folder is None:
        raise EvaluationInputError(f"no instruction dataset under {datasets_root}: {DATASET_FIX}")
    if not Path(folder).is_dir():
        raise EvaluationInputError(f"dataset folder {folder} does not exist: {DATASET_FIX}")
    samples, author_texts = load_dataset_samples(Path(folder), limit=config.samples, split=split)
    author = config.author or next((v.author for v in versions if v.author), None)
    if not author:
        raise EvaluationInputError(
            "no author known: the versions record none; set author: First Last in the config"
        )
    if config.judge.mode == "on" and not judge_configured:
        raise EvaluationInputError("judge.mode is 'on' but no endpoint is configured: set OPENAI_BASE_URL")
    checks = check_held_out(samples, versions, datasets_root=datasets_root, dataset=Path(folder))
    return EvaluationPlan(
        versions=versions,
        dataset=Path(folder),
        samples=samples,
        author_texts=author_texts,
        author=author,
        production=production,
        judge=config.judge.mode == "on" or (config.judge.mode == "auto" and judge_configured),
        split=split,
        checks=checks,
    )


def plan_evaluation_from_settings(config: EvaluatingConfig, *, settings: Settings) -> EvaluationPlan:
    """:func:`plan_evaluation` with the registry, datasets and endpoint of ``settings``.

    ``tools/run.py`` calls it before a run starts (so a run that cannot succeed is refused before
    any step), and the first step calls it again (a chained run's versions exist only then).

    Raises:
        EvaluationInputError: as :func:`plan_evaluation`.
        UnknownModelVersion: as :func:`plan_evaluation`.
    """
    return plan_evaluation(
        config,
        registry=ModelRegistry(settings.models_dir),
        datasets_root=settings.state_dir / "datasets",
        judge_configured=bool(settings.openai_base_url),
    )
