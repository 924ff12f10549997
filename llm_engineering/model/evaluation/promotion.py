"""Promotion: which evaluated version becomes production, and why (logged either way).

The winner is the version with the best score on the configured primary metric (lower or
higher is better by metric, :data:`~llm_engineering.model.evaluation.metrics.VERSION_METRICS`).
It is promoted when there is no production version yet, or when it beats the current
production version by more than the configured margin, in the metric's own units (a margin
of 0 promotes any strict improvement). Otherwise production stays as it is. Versions without
a score on the metric (a judge that never answered) cannot win.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from llm_engineering.model.evaluation.metrics import VERSION_METRICS, improvement
from llm_engineering.model.registry import ModelRegistry


class PromotionDecision(BaseModel):
    """What promotion decided.

    Attributes:
        promote: whether ``winner`` becomes production.
        winner: the best version on ``metric`` (None when no version has a score).
        production: the production version before the decision.
        metric: the primary metric.
        winner_score: the winner's score.
        production_score: the production version's score in this evaluation, when it has one.
        margin: the configured margin.
        reason: one sentence, logged and stored with the production pointer.
    """

    promote: bool
    winner: str | None
    production: str | None
    metric: str
    winner_score: float | None = None
    production_score: float | None = None
    margin: float
    reason: str


def decide_promotion(
    scores: Mapping[str, float | None], *, metric: str, margin: float, production: str | None
) -> PromotionDecision:
    """Decide whether the best version on ``metric`` replaces ``production``.

    Args:
        scores: version name -> its score on ``metric`` (None: not scored), in evaluation order;
            ties go to the version listed first.
        metric: the primary metric (a key of ``VERSION_METRICS``).
        margin: how much better than production the winner must be, in the metric's units.
        production: the current production version, or None.

    Raises:
        KeyError: unknown metric.
    """
    better = VERSION_METRICS[metric].better
    scored = [(name, score) for name, score in scores.items() if score is not None]
    common = {"metric": metric, "margin": margin, "production": production}
    if not scored:
        return PromotionDecision(
            promote=False,
            winner=None,
            reason=f"no version has a {metric} score: production unchanged",
            **common,
        )
    sign = 1 if better == "lower" else -1
    winner, best = min(scored, key=lambda item: sign * item[1])
    incumbent = scores.get(production) if production else None
    common |= {"winner": winner, "winner_score": best, "production_score": incumbent}
    shown = f"{metric} {best:.4g} ({better} is better)"
    if production is None:
        return PromotionDecision(
            promote=True, reason=f"no production version yet; {winner} is the best on {shown}", **common
        )
    if winner == production:
        return PromotionDecision(
            promote=False, reason=f"{winner} is already production and still the best on {shown}", **common
        )
    if incumbent is None:
        return PromotionDecision(
            promote=False,
            reason=f"production version {production} has no {metric} score in this evaluation: "
            f"cannot compare, production unchanged (best: {winner}, {shown})",
            **common,
        )
    gain = improvement(best, incumbent, better=better)
    if gain > margin:
        return PromotionDecision(
            promote=True,
            reason=f"{winner} beats production {production} on {metric}: {best:.4g} vs {incumbent:.4g} "
            f"({better} is better), by {gain:.4g} > margin {margin:g}",
            **common,
        )
    return PromotionDecision(
        promote=False,
        reason=f"{winner} does not beat production {production} on {metric} by more than the margin: "
        f"{best:.4g} vs {incumbent:.4g} ({better} is better), by {gain:.4g} <= margin {margin:g}; "
        "production unchanged",
        **common,
    )


def apply_promotion(decision: PromotionDecision, *, registry: ModelRegistry) -> bool:
    """Point production at the winner in the registry when the decision says so; returns whether it did."""
    if decision.promote and decision.winner:
        registry.promote(decision.winner, reason=decision.reason)
        return True
    return False
