"""TrainingConfig: the shipped YAMLs validate, TRL names pass through, bad values name the key."""

from __future__ import annotations

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.settings import PROJECT_ROOT


def test_the_cpu_config_is_small_and_the_gpu_config_is_qlora() -> None:
    cpu = load_config(TrainingConfig, PROJECT_ROOT / "configs" / "training.yaml")
    gpu = load_config(TrainingConfig, PROJECT_ROOT / "configs" / "training_gpu.yaml")
    assert cpu.base_model is None and not cpu.quantization.load_in_4bit
    # Sized in epochs: whole passes over the (small) demo data, self-play DPO on a few pairs.
    assert cpu.sft.max_steps == -1 and cpu.sft.num_train_epochs >= 1 and cpu.sft.max_length >= 384
    # (room for the served prompt, ~250 tokens with 3 passages, and an answer that ends)
    assert cpu.self_play and cpu.dpo.enabled and 0 < (cpu.dpo.max_train_samples or 0) <= 16
    assert gpu.base_model == "meta-llama/Llama-3.1-8B"
    assert gpu.quantization.load_in_4bit and gpu.bf16 and gpu.device == "cuda"


def test_overrides_reach_into_sections() -> None:
    config = load_config(
        TrainingConfig,
        PROJECT_ROOT / "configs" / "training.yaml",
        ["sft.max_steps=20", "dpo.beta=0.2", "sft.lora.r=16", "self_play=true"],
    )
    assert (config.sft.max_steps, config.dpo.beta, config.sft.lora.r, config.self_play) == (20, 0.2, 16, True)


def test_stage_settings_become_trl_config_arguments() -> None:
    from trl import DPOConfig, SFTConfig

    config = TrainingConfig()
    sft = SFTConfig(output_dir="unused", use_cpu=True, bf16=False, **config.sft.trainer_kwargs())
    dpo = DPOConfig(output_dir="unused", use_cpu=True, bf16=False, **config.dpo.trainer_kwargs())
    assert (sft.max_length, sft.packing, sft.learning_rate) == (256, False, 2e-4)
    assert (dpo.beta, dpo.learning_rate) == (0.1, 5e-5)
    assert "enabled" not in config.dpo.trainer_kwargs() and "lora" not in config.sft.trainer_kwargs()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sft.max_step=3"], "sft.max_step: unknown key"),
        (["dpo.lora.rank=4"], "dpo.lora.rank: unknown key"),
        (["sft.learning_rate=0"], "sft.learning_rate"),
        (["sft.max_length=8"], "sft.max_length"),
        (["sft.packing_strategy=greedy"], "sft.packing_strategy"),
        (["author=' '"], "author is blank"),
        (["self_play=true", "dpo.enabled=false"], "self_play regenerates the preference data"),
        (["output.push_to_hub=true"], "push_to_hub needs hub_model_id"),
    ],
)
def test_bad_values_name_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(TrainingConfig, PROJECT_ROOT / "configs" / "training.yaml", overrides)


def test_the_run_fingerprint_ignores_where_the_twin_is_pushed() -> None:
    base = TrainingConfig()
    pushed = TrainingConfig.model_validate({"output": {"push_to_hub": True, "hub_model_id": "me/twin"}})
    changed = TrainingConfig.model_validate({"sft": {"max_steps": 7}})
    assert base.fingerprint_fields() == pushed.fingerprint_fields()
    assert base.fingerprint_fields() != changed.fingerprint_fields()
