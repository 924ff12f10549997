"""Model fixtures: a tiny locally built causal LM and the converted packaged SmolLM2."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer Llama with a ChatML byte-level tokenizer (fp32, ~50k parameters), built once."""
    from llm_engineering.model.tiny import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged SmolLM2-135M-Instruct converted to a bf16 Hugging Face folder (~15 s, once)."""
    from llm_engineering.model.base_model import resolve_base_model

    return resolve_base_model(None, models_dir=tmp_path_factory.mktemp("smollm2-models"))
