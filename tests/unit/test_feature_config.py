"""The feature pipeline's config: defaults, the shipped YAML, and refusals."""

from __future__ import annotations

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.features import FeatureEngineeringConfig
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.types import DataCategory
from llm_engineering.settings import PROJECT_ROOT

YAML = PROJECT_ROOT / "configs" / "feature_engineering.yaml"


def test_the_shipped_yaml_is_valid_and_names_the_demo_author():
    config = load_config(FeatureEngineeringConfig, YAML)
    assert config.author_full_names == ["Maya Lindqvist", "Theo Castellanos"]  # the twin's author, a second
    assert config.chunking.for_category(DataCategory.ARTICLES).chunk_size == 256
    assert config.chunking.for_category("posts").chunk_overlap == 16
    # Besides the demo's two authors, the YAML spells out the defaults.
    assert config == FeatureEngineeringConfig(author_full_names=["Maya Lindqvist", "Theo Castellanos"])


def test_command_line_overrides_win_and_names_are_normalised():
    config = load_config(
        FeatureEngineeringConfig,
        YAML,
        [
            "author_full_names=[' Ada   Lovelace ', ada lovelace, Grace Hopper]",
            "chunking.posts.chunk_size=64",
        ],
    )
    assert config.author_full_names == ["Ada Lovelace", "Grace Hopper"]
    assert config.chunking.posts.chunk_size == 64


def test_mass_removal_is_refused_by_default_and_allowed_from_the_command_line():
    shipped = load_config(FeatureEngineeringConfig, YAML)
    assert (shipped.allow_mass_removal, shipped.mass_removal_threshold) == (False, 0.5)
    config = load_config(
        FeatureEngineeringConfig, YAML, ["allow_mass_removal=true", "mass_removal_threshold=0.8"]
    )
    assert (config.allow_mass_removal, config.mass_removal_threshold) == (True, 0.8)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("chunking.articles.chunk_overlap=200", "chunking.articles: Value error, chunk_overlap (200)"),
        ("chunking.articles.size=100", "chunking.articles.size: unknown key"),
        ("author_full_names=[]", "author_full_names: List should have at least 1 item"),
        ("author_full_names=['  ']", "author_full_names: Value error, an author name is blank"),
        ("embedding.batch_size=0", "embedding.batch_size: Input should be greater than or equal to 1"),
        ("chunking.code.chunk_size=10", "chunking.code: unknown key"),
        ("mass_removal_threshold=1.5", "mass_removal_threshold: Input should be less than or equal to 1"),
    ],
)
def test_bad_values_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(FeatureEngineeringConfig, YAML, [override])
    assert message in str(error.value)
