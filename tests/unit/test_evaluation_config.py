"""EvaluatingConfig: defaults, YAML, overrides, and clear refusals of unknown metrics and keys."""

from __future__ import annotations

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.domain.decoding import Decoding
from llm_engineering.domain.exceptions import ConfigError
from llm_engineering.domain.metrics import METRIC_GROUPS
from llm_engineering.settings import PROJECT_ROOT

YAML = PROJECT_ROOT / "configs" / "evaluating.yaml"


def test_the_shipped_yaml_is_valid_and_matches_the_defaults():
    assert load_config(EvaluatingConfig, YAML) == EvaluatingConfig()
    assert EvaluatingConfig().metrics == list(METRIC_GROUPS)


def test_the_generation_section_is_the_served_decoding():
    generation = EvaluatingConfig().generation
    assert isinstance(generation, Decoding)
    # same fields, same defaults as serving, but a fixed seed: a rerun gives the same answers
    assert generation.decoding() == Decoding(seed=0)
    tuned = load_config(
        EvaluatingConfig, YAML, ["generation.repetition_penalty=1.2", "generation.no_repeat_ngram_size=4"]
    ).generation.decoding()
    assert (tuned.repetition_penalty, tuned.no_repeat_ngram_size) == (1.2, 4)


def test_overrides_apply_on_top_of_the_yaml():
    config = load_config(
        EvaluatingConfig,
        YAML,
        [
            "samples=4",
            "generation.max_new_tokens=16",
            "promotion.primary_metric=style_distance",
            "judge.mode=off",
        ],
    )
    assert (config.samples, config.generation.max_new_tokens) == (4, 16)
    assert config.promotion.primary_metric == "style_distance"
    assert config.judge.mode == "off"  # YAML's bare off (a boolean) is read as the mode


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "metrics=[perplexity]",
            "metrics: Value error, unknown metric 'perplexity' (known: author_perplexity",
        ),
        ("metrics=[]", "name at least one metric"),
        ("promotion.primary_metric=bleu", "unknown metric 'bleu'"),
        ("generation.batch_size=0", "generation.batch_size"),
        ("promotion.margin=-1", "promotion.margin"),
        ("judge.mode=sometimes", "judge.mode"),
        ("generaton.max_new_tokens=5", "generaton: unknown key"),
        ("generation.repetition_penalty=0.5", "generation.repetition_penalty"),
        ("arms=[served, rag]", "arms"),
        ("promotion.guards=[loop_rat]", "unknown guard metric 'loop_rat'"),
    ],
)
def test_bad_values_are_refused_with_the_key(override: str, message: str):
    with pytest.raises(ConfigError) as error:
        load_config(EvaluatingConfig, YAML, [override])
    assert message in str(error.value)


def test_the_primary_metric_must_be_computed():
    with pytest.raises(ConfigError, match="primary_metric 'rouge_l' is not among metrics"):
        load_config(EvaluatingConfig, None, ["metrics=[style_distance]", "promotion.primary_metric=rouge_l"])
    with pytest.raises(ConfigError, match="needs the judge"):
        load_config(EvaluatingConfig, None, ["judge.mode=off", "promotion.primary_metric=judge_author"])
    config = load_config(EvaluatingConfig, None, ["judge.mode=on", "promotion.primary_metric=judge_author"])
    assert config.promotion.primary_metric == "judge_author"
    with pytest.raises(ConfigError, match="guards 'style_distance' is not among metrics"):
        load_config(
            EvaluatingConfig,
            None,
            ["metrics=[rouge_l]", "promotion.primary_metric=rouge_l", "promotion.fallback_metric=null"],
        )
    with pytest.raises(ConfigError, match="promotion.arm 'bare' is not among arms"):
        load_config(EvaluatingConfig, None, ["arms=[served]"])
    with pytest.raises(ConfigError, match="promotion.guard_arm 'served' is not among arms"):
        load_config(EvaluatingConfig, None, ["arms=[bare]", "promotion.guard_arm=served"])
    # loop rate, ended rate and distinct-2 are always computed: they may decide without being listed
    config = load_config(
        EvaluatingConfig,
        None,
        ["metrics=[rouge_l]", "promotion.primary_metric=distinct_2", "promotion.guards=[loop_rate]",
         "promotion.fallback_metric=null"],
    )  # fmt: skip
    assert config.promotion.primary_metric == "distinct_2"
