"""Promotion: the best version on the primary metric replaces production only by more than the margin."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_engineering.model.evaluation.promotion import apply_promotion, decide_promotion
from llm_engineering.model.registry import ModelRegistry, ModelVersion


def test_first_evaluation_promotes_the_best_with_lower_is_better():
    decision = decide_promotion(
        {"base": 40.0, "r1-sft": 12.0, "r1-dpo": 11.5},
        metric="author_perplexity",
        margin=0.0,
        production=None,
    )
    assert decision.promote and decision.winner == "r1-dpo"
    assert "no production version yet" in decision.reason


def test_higher_is_better_metrics_pick_the_largest():
    decision = decide_promotion(
        {"base": 0.1, "r1-sft": 0.7, "r1-dpo": 0.6}, metric="attribution_rate", margin=0.0, production="base"
    )
    assert decision.promote and decision.winner == "r1-sft"
    assert decision.production_score == 0.1


@pytest.mark.parametrize(
    ("margin", "promoted"),
    [(0.0, True), (0.4, True), (0.5, False), (2.0, False)],
)
def test_margin_in_the_metrics_units(margin: float, promoted: bool):
    # r2-dpo beats production r1-dpo by exactly 0.5 perplexity: promoted only when 0.5 > margin.
    decision = decide_promotion(
        {"base": 40.0, "r1-dpo": 12.0, "r2-dpo": 11.5},
        metric="author_perplexity",
        margin=margin,
        production="r1-dpo",
    )
    assert decision.winner == "r2-dpo"
    assert decision.promote is promoted
    assert ("beats production" if promoted else "production unchanged") in decision.reason
    assert f"margin {margin:g}" in decision.reason


def test_production_that_is_still_best_stays():
    decision = decide_promotion(
        {"base": 40.0, "r1-dpo": 10.0}, metric="author_perplexity", margin=0, production="r1-dpo"
    )
    assert not decision.promote and "already production" in decision.reason


def test_versions_without_a_score_cannot_win_and_unscored_production_is_not_replaced():
    decision = decide_promotion({"a": None, "b": None}, metric="judge_style", margin=0, production=None)
    assert not decision.promote and decision.winner is None and "no version has" in decision.reason
    decision = decide_promotion({"a": 2.5, "prod": None}, metric="judge_style", margin=0, production="prod")
    assert not decision.promote and "cannot compare" in decision.reason


def test_apply_moves_the_registry_pointer_only_when_promoting(tmp_path: Path):
    registry = ModelRegistry(tmp_path / "models")
    for name, stage in (("base", "base"), ("r1-sft", "sft")):
        registry.register(ModelVersion(name=name, stage=stage, folder=tmp_path / name, base_model="tiny"))
    keep = decide_promotion(
        {"base": 5.0, "r1-sft": 5.0}, metric="author_perplexity", margin=0, production="base"
    )
    assert not apply_promotion(keep, registry=registry)
    assert registry.production() is None
    win = decide_promotion(
        {"base": 5.0, "r1-sft": 4.0}, metric="author_perplexity", margin=0, production=None
    )
    assert apply_promotion(win, registry=registry)
    assert registry.production().name == "r1-sft"
