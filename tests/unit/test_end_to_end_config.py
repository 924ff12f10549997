"""The end-to-end config chains the stage YAMLs by path and validates them as one."""

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.end_to_end import EndToEndDataConfig
from llm_engineering.domain.exceptions import ConfigError


def test_the_shipped_config_includes_each_stage_yaml():
    config = load_config(EndToEndDataConfig, "configs/end_to_end_data.yaml")
    assert config.etl[0].user_full_name == "Maya Lindqvist"
    assert config.feature_engineering.author_full_names == ["Maya Lindqvist"]
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
    assert config.feature_engineering.author_full_names == ["Maya Lindqvist"]
    assert config.feature_engineering.chunking.posts.chunk_size == 128
