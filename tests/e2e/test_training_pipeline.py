"""The training pipeline through `tools.run` on an isolated ZenML store, with a tiny model and dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from steps import ZENML_MODEL
from tests.model_fixtures import save_training_datasets
from tests.zenml_helpers import run_cli

pytestmark = pytest.mark.e2e


def _config(tmp_path: Path, base: Path) -> str:
    stage = {"max_steps": 2, "learning_rate": 1e-2, "max_length": 128, "save_steps": 2, "lora": {"r": 4}}
    path = tmp_path / "training.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base_model": str(base),
                "voice": {**stage, "enabled": True, "max_length": 64},
                "sft": stage,
                "dpo": stage,
                "output": {"merged_dtype": "float32"},
            }
        )
    )
    return str(path)


def test_training_pipeline_stops_before_training_without_a_dataset(
    isolated_state, tiny_model_dir, tmp_path
) -> None:
    result = run_cli("training", "--config", _config(tmp_path, tiny_model_dir))
    assert result.exit_code == 1
    assert "no instruction dataset yet" in result.output
    assert "poe run-generate-instruct-datasets-pipeline" in result.output
    assert not (isolated_state / "models" / "runs").exists()


def test_training_pipeline_trains_registers_and_shows_loss_curves(
    isolated_state, tiny_model_dir, tmp_path
) -> None:
    from zenml.client import Client

    from llm_engineering.model.registry import ModelRegistry

    save_training_datasets(isolated_state / "datasets")
    result = run_cli("training", "--config", _config(tmp_path, tiny_model_dir), "--set", "sft.max_steps=3")
    assert result.exit_code == 0, result.output
    assert "sft: 3 steps" in result.output and "dpo: 2 steps" in result.output  # step summaries
    assert "voice: 2 steps" in result.output  # the voice stage ran first, as its own step
    assert "of rows cut to max_length at a sentence end" in result.output  # the share cut is reported
    registry = ModelRegistry(isolated_state / "models")
    dpo = registry.latest("dpo")
    assert dpo is not None and (dpo.folder / "config.json").is_file()
    assert dpo.metrics["dpo_steps"] == 2 and registry.latest("sft").metrics["sft_steps"] == 3
    zenml_version = Client().get_model_version(ZENML_MODEL, dpo.name)
    metadata = zenml_version.run_metadata
    assert metadata["folder"] == str(dpo.folder)
    assert metadata["datasets"]["preference"] == dpo.datasets["preference"]
    run = Client().get_pipeline("training").last_run
    curve = run.steps["register_twin"].outputs["loss_curve"][0]
    html = curve.load()
    assert "<svg" in html and "SFT loss" in html and "DPO loss" in html
