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


# -- guards: a looping twin cannot win ----------------------------------------------------------


def test_a_looping_version_is_not_promoted_and_the_decision_names_the_guard():
    # r1-sft wins the primary metric (attribution) but loops: its loop-rate interval lies wholly
    # above the base model's, so it is out; r1-dpo, within the base's interval, wins instead.
    decision = decide_promotion(
        {"base": 0.2, "r1-sft": 0.9, "r1-dpo": 0.6},
        metric="attribution_rate",
        margin=0.0,
        production=None,
        guards={"loop_rate": {"base": (0.0, 0.1), "r1-sft": (0.4, 0.8), "r1-dpo": (0.0, 0.12)}},
        baseline="base",
    )
    assert decision.promote and decision.winner == "r1-dpo"
    assert decision.guard == "loop_rate" and set(decision.stopped) == {"r1-sft"}
    assert "r1-sft stopped by the loop_rate guard" in decision.reason


def test_when_every_twin_is_stopped_production_stays_and_the_reason_says_why():
    decision = decide_promotion(
        {"base": 0.30, "r1-sft": 0.70},
        metric="attribution_rate",
        margin=0.0,
        production="base",
        guards={
            "loop_rate": {"base": (0.0, 0.0), "r1-sft": (0.0, 0.1)},  # overlapping: no stop
            "style_distance": {"base": (0.25, 0.31), "r1-sft": (0.35, 0.45)},  # worse beyond intervals
        },
        baseline="base",
    )
    # r1-sft leads on attribution, but its style is further from the author's than base's: stopped.
    assert not decision.promote and decision.guard == "style_distance"
    assert "stopped by the style_distance guard" in decision.reason
    assert "base is already production" in decision.reason


def test_overlapping_intervals_do_not_stop_a_version():
    decision = decide_promotion(
        {"base": 0.2, "r1-sft": 0.5},
        metric="attribution_rate",
        margin=0.0,
        production=None,
        guards={"loop_rate": {"base": (0.0, 0.2), "r1-sft": (0.1, 0.3)}},
        baseline="base",
    )
    assert decision.promote and decision.winner == "r1-sft" and not decision.stopped


def test_a_looping_twin_is_not_promoted_even_on_the_metric_training_minimises():
    from llm_engineering.configs import load_config
    from llm_engineering.configs.evaluating import EvaluatingConfig
    from llm_engineering.model.evaluation.results import EvalSample, EvaluationAnswers, VersionAnswers
    from llm_engineering.model.evaluation.score import score_answers

    topics = [
        "chunk sizes",
        "feature stores",
        "LoRA",
        "evaluation",
        "serving",
        "retries",
        "backfills",
        "caches",
    ]
    samples = [
        EvalSample(instruction=f"How do you think about {t}?", reference=f"I start {t} small.")
        for t in topics
    ]
    plain = [f"With {t}, I would measure first, change one thing, and write down what moved." for t in topics]
    looping = ["The model didn't know how to split a paragraph. " * 9 for _ in topics]
    answers = EvaluationAnswers(
        author="Ada Byron",
        dataset="memory",
        samples=samples,
        versions=[
            VersionAnswers(name="base", stage="base", folder="b", answers=plain, perplexity=50.0),
            VersionAnswers(name="r1-sft", stage="sft", folder="s", answers=looping, perplexity=5.0),
        ],
        metrics=["author_perplexity", "style_distance"],
    )
    config = load_config(
        EvaluatingConfig,
        None,
        ["metrics=[author_perplexity, style_distance]", "promotion.primary_metric=author_perplexity",
         "arms=[bare]", "promotion.arm=bare"],
    )  # fmt: skip
    decision = score_answers(answers, config=config, progress=False).promotion
    assert decision.winner == "base" and decision.guard == "loop_rate"
    assert "r1-sft stopped by the loop_rate guard" in decision.reason


def test_the_bare_arm_decides_and_the_served_arm_guards():
    from llm_engineering.configs import load_config
    from llm_engineering.configs.evaluating import EvaluatingConfig
    from llm_engineering.model.evaluation.results import EvaluationResults, VersionResult
    from llm_engineering.model.evaluation.score import decide

    def version(
        name: str, stage: str, arm: str, attribution: float, loop: tuple[float, float]
    ) -> VersionResult:
        return VersionResult(
            name=name,
            stage=stage,
            arm=arm,
            scores={"attribution_rate": attribution, "loop_rate": sum(loop) / 2, "style_distance": 0.2},
            intervals={"loop_rate": loop, "style_distance": (0.15, 0.25)},
        )

    def results(sft_served_loop: tuple[float, float]) -> EvaluationResults:
        return EvaluationResults(
            author="Ada Byron",
            dataset="memory",
            samples=[],
            answers={},
            metrics=["attribution_rate", "style_distance"],
            primary_metric="attribution_rate",
            primary_arm="bare",
            versions=[
                version("base", "base", "served", 0.9, (0.0, 0.0)),  # quotes the passages it is given
                version("base", "base", "bare", 0.4, (0.0, 0.0)),
                version("r1-sft", "sft", "served", 0.8, sft_served_loop),
                version("r1-sft", "sft", "bare", 0.9, (0.0, 0.0)),
            ],
        )

    config = load_config(EvaluatingConfig, None, [])
    assert (config.promotion.arm, config.promotion.guard_arm) == ("bare", None)
    decision = decide(results((0.0, 0.0)), config=config)
    assert decision.promote and decision.winner == "r1-sft" and decision.winner_score == 0.9
    looping = decide(results((0.4, 0.8)), config=config)  # loops only when served: the guard reads served
    assert looping.winner == "base" and looping.guard == "loop_rate"
