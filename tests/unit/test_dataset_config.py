"""The dataset config and the checks that refuse a run before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.application.datasets.checks import check_prerequisites
from llm_engineering.application.datasets.feature_source import check_feature_store, load_extracts
from llm_engineering.configs import load_config
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.exceptions import ConfigError, ImproperlyConfigured
from llm_engineering.settings import PROJECT_ROOT, Settings
from tests.fakes import InMemoryVectorStore

INSTRUCT_YAML = PROJECT_ROOT / "configs" / "generate_instruct_datasets.yaml"
PREFERENCE_YAML = PROJECT_ROOT / "configs" / "generate_preference_datasets.yaml"


@pytest.fixture(autouse=True)
def _no_endpoint_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HUGGINGFACE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_the_shipped_configs_are_offline_runs_for_the_demo_author():
    instruct = load_config(GenerateDatasetsConfig, INSTRUCT_YAML)
    preference = load_config(GenerateDatasetsConfig, PREFERENCE_YAML)
    assert instruct.dataset_type == "instruction" and preference.dataset_type == "preference"
    for config in (instruct, preference):
        assert config.author_full_names == ["Maya Lindqvist"]
        assert config.instruction.strategy == "offline" and not config.uses_endpoint
    assert preference.preference.rejected_strategy == "offline"
    assert instruct == GenerateDatasetsConfig(dataset_type="instruction")  # the YAML states the defaults


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "instruction.strategy=magic",
            "generate_instruct_datasets.yaml + --set: instruction.strategy: Input should be 'offline' or 'llm'",
        ),
        (
            "preference.rejected_strategy=model",
            "preference: Value error, rejected_strategy 'model' needs preference.model",
        ),
        ("extracts.unit=pages", "extracts.unit: Input should be 'characters' or 'words'"),
        ("extracts.min_length=5000", "min_length (5000) must be below max_length (1500)"),
        ("split.colour=blue", "split.colour: unknown key"),
        ("source=handbook_json", "needs handbook_json: the path of the JSON file"),
        ("output.push_to_hub=true", "push_to_hub needs output.hub_repo_id"),
    ],
)
def test_bad_values_stop_with_the_key_in_the_message(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(GenerateDatasetsConfig, INSTRUCT_YAML, [override])
    assert message in str(error.value)


def test_command_line_overrides_win_over_the_yaml():
    config = load_config(
        GenerateDatasetsConfig, INSTRUCT_YAML, ["split.test_size=0.25", "instruction.strategy=llm"]
    )
    assert config.split.test_size == 0.25 and config.uses_endpoint


def test_llm_strategies_need_an_endpoint():
    llm = GenerateDatasetsConfig(dataset_type="instruction", instruction={"strategy": "llm"})
    with pytest.raises(ImproperlyConfigured, match="needs an LLM endpoint: set OPENAI_BASE_URL"):
        check_prerequisites(llm, settings=settings())
    check_prerequisites(llm, settings=settings(openai_base_url="http://127.0.0.1:1/v1"))

    rejected = GenerateDatasetsConfig(dataset_type="preference", preference={"rejected_strategy": "llm"})
    with pytest.raises(ImproperlyConfigured, match="rejected_strategy 'llm' needs an LLM endpoint"):
        check_prerequisites(rejected, settings=settings())


def test_the_model_strategy_needs_a_model_folder_or_an_endpoint(tmp_path: Path):
    by_id = GenerateDatasetsConfig(
        dataset_type="preference", preference={"rejected_strategy": "model", "model": "twin-sft"}
    )
    with pytest.raises(
        ImproperlyConfigured, match="'twin-sft' is not a local model folder and no endpoint serves it"
    ):
        check_prerequisites(by_id, settings=settings())
    check_prerequisites(by_id, settings=settings(openai_base_url="http://127.0.0.1:1/v1"))
    by_path = by_id.model_copy(
        update={"preference": by_id.preference.model_copy(update={"model": str(tmp_path)})}
    )
    check_prerequisites(by_path, settings=settings())


def test_pushing_needs_a_token():
    config = GenerateDatasetsConfig(
        dataset_type="instruction", output={"push_to_hub": True, "hub_repo_id": "me/twin"}
    )
    with pytest.raises(ImproperlyConfigured, match="HUGGINGFACE_ACCESS_TOKEN"):
        check_prerequisites(config, settings=settings())


def _cleaned(author: str) -> CleanedDocument:
    return CleanedDocument(
        id=f"id-{author}", category="articles", content="Some text.", platform="local", author_id=author,
        author_full_name=author, link=f"file:///{author}", source_hash="h",
    )  # fmt: skip


def test_an_empty_feature_store_names_the_feature_pipeline():
    store = InMemoryVectorStore()
    with pytest.raises(ImproperlyConfigured) as error:
        check_feature_store(store, author_full_names=["Maya Lindqvist"], categories=["articles", "posts"])
    assert str(error.value) == (
        "no cleaned articles/posts documents of Maya Lindqvist in the feature store: "
        "run the feature pipeline first: poe run-feature-engineering-pipeline"
    )


def test_an_unknown_author_lists_the_stored_ones_and_names_match_case_and_space_blind():
    store = InMemoryVectorStore()
    store.add_documents([_cleaned("Ada Lovelace"), _cleaned("Grace Hopper")])
    with pytest.raises(
        ImproperlyConfigured,
        match=r"no cleaned articles documents of Maya Lindqvist in the feature store \(it holds: Ada Lovelace, Grace",
    ):
        check_feature_store(
            store, author_full_names=["Ada Lovelace", "Maya Lindqvist"], categories=["articles"]
        )
    names = check_feature_store(store, author_full_names=["ada  LOVELACE"], categories=["articles"])
    assert names == ["Ada Lovelace"]
    config = GenerateDatasetsConfig(dataset_type="instruction", extracts={"min_length": 0, "max_length": 100})
    report = load_extracts(
        store,
        author_full_names=["ADA lovelace"],
        extracts=config.extracts,
        quality=config.quality,
        progress=False,
    )
    assert report.documents == {"articles": 1} and {e.author_full_name for e in report.extracts} == {
        "Ada Lovelace"
    }


def test_the_first_step_checks_the_store_too_when_the_run_is_chained():
    # Chained after the feature pipeline, the pipeline cannot check the store before it is filled;
    # the extract step then refuses an empty one with the same message.
    config = GenerateDatasetsConfig(dataset_type="instruction")
    with pytest.raises(ImproperlyConfigured, match="run the feature pipeline first"):
        load_extracts(
            InMemoryVectorStore(),
            author_full_names=["Maya Lindqvist"],
            extracts=config.extracts,
            quality=config.quality,
        )
