"""Bad input stops before any training, with a message that names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.exceptions import ImproperlyConfigured
from llm_engineering.model.training.data import TrainingDataError
from llm_engineering.model.training.plan import plan_training
from tests.model_fixtures import save_training_datasets

pytestmark = pytest.mark.integration


def _plan(tmp_path: Path, base: Path | str, **config):
    return plan_training(
        TrainingConfig.model_validate({"base_model": str(base), **config}),
        models_dir=tmp_path / "models",
        datasets_root=tmp_path / "datasets",
    )


def test_no_dataset_yet_names_the_pipeline_to_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(
        TrainingDataError, match="no instruction dataset yet.*poe run-generate-instruct-datasets"
    ):
        _plan(tmp_path, tiny_model_dir)
    assert not (tmp_path / "models" / "runs").exists()  # nothing started


def test_no_preference_dataset_is_fine_when_dpo_is_off(tiny_model_dir: Path, tmp_path: Path) -> None:
    instruction, preference = save_training_datasets(tmp_path / "datasets")
    (preference.parent / "LATEST").unlink()
    with pytest.raises(TrainingDataError, match="no preference dataset yet"):
        _plan(tmp_path, tiny_model_dir)
    plan = _plan(tmp_path, tiny_model_dir, dpo={"enabled": False})
    assert plan.instruction_dataset == instruction and plan.preference_dataset is None


def test_a_dataset_with_the_wrong_columns_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    _, preference = save_training_datasets(tmp_path / "datasets")
    with pytest.raises(
        TrainingDataError, match=r"needs the columns instruction, output; missing instruction, output"
    ):
        _plan(tmp_path, tiny_model_dir, datasets={"instruction": str(preference)})


def test_a_missing_dataset_folder_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    with pytest.raises(TrainingDataError, match="20990101-nothing is not a saved dataset"):
        _plan(tmp_path, tiny_model_dir, datasets={"preference": "20990101-nothing"})


def test_a_missing_base_model_folder_is_refused(tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    with pytest.raises(ImproperlyConfigured, match="does not exist or has no config.json"):
        _plan(tmp_path, tmp_path / "no-model")


def test_max_length_shorter_than_the_system_prompt_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    with pytest.raises(TrainingDataError, match=r"raise dpo.max_length to at least \d+"):
        _plan(tmp_path, tiny_model_dir, dpo={"max_length": 32})


def test_4bit_quantization_needs_a_gpu(tiny_model_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    with pytest.raises(ImproperlyConfigured, match="needs a CUDA GPU"):
        _plan(tmp_path, tiny_model_dir, device="cpu", quantization={"load_in_4bit": True})


def test_the_same_config_and_data_plan_the_same_run_and_new_data_a_new_one(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    save_training_datasets(tmp_path / "datasets")
    first = _plan(tmp_path, tiny_model_dir)
    assert _plan(tmp_path, tiny_model_dir).run == first.run
    assert (first.run_dir / "run.json").is_file()
    save_training_datasets(tmp_path / "datasets", rows=9)  # a newer version of both datasets
    assert _plan(tmp_path, tiny_model_dir).run != first.run
