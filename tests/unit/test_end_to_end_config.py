"""The end-to-end config chains the stage YAMLs by path and validates them as one."""

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.end_to_end import EndToEndDataConfig
from llm_engineering.domain.exceptions import ConfigError


def test_the_shipped_config_includes_each_stage_yaml():
    config = load_config(EndToEndDataConfig, "configs/end_to_end_data.yaml")
    assert [etl.user_full_name for etl in config.etl] == ["Maya Lindqvist", "Theo Castellanos"]
    assert config.feature_engineering.author_full_names == ["Maya Lindqvist", "Theo Castellanos"]
    assert config.instruct_datasets.dataset_type == "instruction"
    assert config.preference_datasets.dataset_type == "preference"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("feature_engineering=configs/absent.yaml", "no such config file: configs/absent.yaml"),
        (
            "feature_engineering.chunking.articles.chunk_sise=10",
            "feature_engineering.chunking.articles.chunk_sise: unknown key",
        ),
        (
            "instruct_datasets=configs/generate_preference_datasets.yaml",
            "must have dataset_type: instruction",
        ),
        ("etl=[]", "etl: Value should have at least 1 item"),
    ],
)
def test_a_bad_section_is_named(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(EndToEndDataConfig, "configs/end_to_end_data.yaml", [override])
    assert message in str(error.value)


def test_set_edits_one_key_of_an_included_section_and_keeps_the_rest():
    config = load_config(
        EndToEndDataConfig, "configs/end_to_end_data.yaml", ["feature_engineering.embedding.batch_size=8"]
    )
    assert config.feature_engineering.embedding.batch_size == 8
    assert config.feature_engineering.author_full_names == ["Maya Lindqvist", "Theo Castellanos"]
    assert config.feature_engineering.chunking.posts.chunk_size == 128


def test_the_whole_chain_includes_training_and_evaluation():
    from llm_engineering.configs.end_to_end import EndToEndConfig

    config = load_config(EndToEndConfig, "configs/end_to_end.yaml", ["training.sft.max_steps=7"])
    assert config.training.sft.max_steps == 7
    assert config.training.dpo.enabled
    from llm_engineering.configs.evaluating import EvaluatingConfig

    # the evaluation section is the included file, whatever metric it promotes on
    assert config.evaluating == load_config(EvaluatingConfig, "configs/evaluating.yaml")
    assert config.etl[0].user_full_name == "Maya Lindqvist"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.sft.lerning_rate=1", "training.sft.lerning_rate: unknown key"),
        ("training=configs/evaluating.yaml", "training."),
        (
            "evaluating.promotion.primary_metric=bleu",
            "evaluating.promotion.primary_metric: Value error, unknown metric 'bleu'",
        ),
        (
            "training.author=Someone Else",
            "training.author 'Someone Else' is none of the ETL users (Maya Lindqvist, Theo Castellanos)",
        ),
    ],
)
def test_a_bad_stage_of_the_whole_chain_stops_it_before_anything_runs(override, message):
    from llm_engineering.configs.end_to_end import EndToEndConfig

    with pytest.raises(ConfigError) as error:
        load_config(EndToEndConfig, "configs/end_to_end.yaml", [override])
    assert message in str(error.value)


def test_an_author_spelled_differently_still_matches_its_etl_user():
    from llm_engineering.configs.end_to_end import EndToEndConfig

    config = load_config(EndToEndConfig, "configs/end_to_end.yaml", ["training.author=maya  LINDQVIST"])
    assert config.training.author == "maya LINDQVIST"


@pytest.mark.parametrize("path", ["configs/end_to_end.yaml", "configs/end_to_end_data.yaml"])
def test_the_demo_crawls_every_file_of_both_authors_and_trains_only_maya(path):
    """Every demo file is crawled for its own author, every feature author is crawled (the feature
    pipeline refuses an author the warehouse does not know), and the datasets stay on the twin's author."""
    from llm_engineering.application.crawlers.links import local_path
    from llm_engineering.configs.end_to_end import EndToEndConfig
    from llm_engineering.settings import PROJECT_ROOT

    model = EndToEndConfig if path == "configs/end_to_end.yaml" else EndToEndDataConfig
    config = load_config(model, path)
    crawled = {local_path(link): etl.user_full_name for etl in config.etl for link in etl.links}
    shipped = {
        file: ("Theo Castellanos" if "theo-castellanos" in file.parts else "Maya Lindqvist")
        for file in (PROJECT_ROOT / "data" / "demo").rglob("*")
        if file.is_file() and file.name != "README.md"
    }
    assert crawled == shipped
    assert set(config.feature_engineering.author_full_names) == set(crawled.values())
    assert config.instruct_datasets.author_full_names == ["Maya Lindqvist"]
    assert config.preference_datasets.author_full_names == ["Maya Lindqvist"]
