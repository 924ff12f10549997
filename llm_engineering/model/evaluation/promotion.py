"""Promotion: which evaluated version becomes production, and why (logged either way).

The winner is the version with the best score on the configured primary metric (lower or
higher is better by metric, :data:`~llm_engineering.domain.metrics.VERSION_METRICS`).
It is promoted when there is no production version yet, or when it beats the current
production version by more than the configured margin, in the metric's own units (a margin
of 0 promotes any strict improvement). Otherwise production stays as it is. Versions without
a score on the metric (a judge that never answered) cannot win.

**Guards** keep a looping twin from winning on a metric it can game: a version whose loop
rate or style distance (the configured guard metrics) is worse than the base model's
*beyond their bootstrap intervals* (the two 95% intervals do not overlap) is out of the
running, and the decision names the guard that stopped it. The best remaining version is
then considered as above.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from llm_engineering.domain.metrics import VERSION_METRICS, improvement
from llm_engineering.model.evaluation.intervals import Interval, worse_beyond
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
        stopped: version -> why a guard put it out of the running.
        guard: the guard metric that stopped the best version on ``metric``, when one did.
    """

    promote: bool
    winner: str | None
    production: str | None
    metric: str
    winner_score: float | None = None
    production_score: float | None = None
    margin: float
    reason: str
    stopped: dict[str, str] = Field(default_factory=dict)
    guard: str | None = None


def guard_stops(
    guards: Mapping[str, Mapping[str, Interval | None]], *, baseline: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Versions a guard puts out of the running: worse than ``baseline`` beyond their intervals.

    Args:
        guards: guard metric -> version -> its 95% interval.
        baseline: the base model's version name (never stopped); None: no guard applies.

    Returns:
        ``(reasons, metrics)``: version -> one sentence, and version -> the first guard metric that stopped it.
    """
    reasons: dict[str, str] = {}
    stopped_by: dict[str, str] = {}
    if baseline is None:
        return reasons, stopped_by
    for guard, intervals in guards.items():
        better = VERSION_METRICS[guard].better
        base = intervals.get(baseline)
        for name, interval in intervals.items():
            if name == baseline or name in reasons or not worse_beyond(interval, base, better=better):
                continue
            assert interval is not None and base is not None
            reasons[name] = (
                f"{name} stopped by the {guard} guard: [{interval[0]:.3g}, {interval[1]:.3g}] is worse than "
                f"base {baseline}'s [{base[0]:.3g}, {base[1]:.3g}] beyond their 95% intervals ({better} is better)"
            )
            stopped_by[name] = guard
    return reasons, stopped_by


def decide_promotion(
    scores: Mapping[str, float | None],
    *,
    metric: str,
    margin: float,
    production: str | None,
    guards: Mapping[str, Mapping[str, Interval | None]] | None = None,
    baseline: str | None = None,
) -> PromotionDecision:
    """Decide whether the best version on ``metric`` replaces ``production``.

    Args:
        scores: version name -> its score on ``metric`` (None: not scored), in evaluation order;
            ties go to the version listed first.
        metric: the primary metric (a key of ``VERSION_METRICS``).
        margin: how much better than production the winner must be, in the metric's units.
        production: the current production version, or None.
        guards: guard metric -> version -> its 95% interval (see the module docstring).
        baseline: the base model's version name, which the guards compare against.

    Raises:
        KeyError: unknown metric.
    """
    better = VERSION_METRICS[metric].better
    stopped, stopped_by = guard_stops(guards or {}, baseline=baseline)
    sign = 1 if better == "lower" else -1
    everyone = [(name, score) for name, score in scores.items() if score is not None]
    scored = [(name, score) for name, score in everyone if name not in stopped]
    common = {"metric": metric, "margin": margin, "production": production, "stopped": stopped}
    top = min(everyone, key=lambda item: sign * item[1])[0] if everyone else None
    guard_note = ""
    if top is not None and top in stopped:
        common["guard"] = stopped_by[top]
        guard_note = f"{stopped[top]}; "
    if not scored:
        return PromotionDecision(
            promote=False,
            winner=None,
            reason=guard_note
            + f"no version has a {metric} score"
            + (" that passes the guards" if everyone else "")
            + ": production unchanged",
            **common,
        )
    winner, best = min(scored, key=lambda item: sign * item[1])
    incumbent = scores.get(production) if production else None
    common |= {"winner": winner, "winner_score": best, "production_score": incumbent}
    shown = f"{metric} {best:.4g} ({better} is better)"
    if production is None:
        return PromotionDecision(
            promote=True,
            reason=guard_note + f"no production version yet; {winner} is the best on {shown}",
            **common,
        )
    if winner == production:
        return PromotionDecision(
            promote=False,
            reason=guard_note + f"{winner} is already production and still the best on {shown}",
            **common,
        )
    if incumbent is None:
        return PromotionDecision(
            promote=False,
            reason=guard_note + f"production version {production} has no {metric} score in this evaluation: "
            f"cannot compare, production unchanged (best: {winner}, {shown})",
            **common,
        )
    gain = improvement(best, incumbent, better=better)
    if gain > margin:
        return PromotionDecision(
            promote=True,
            reason=guard_note
            + f"{winner} beats production {production} on {metric}: {best:.4g} vs {incumbent:.4g} "
            f"({better} is better), by {gain:.4g} > margin {margin:g}",
            **common,
        )
    return PromotionDecision(
        promote=False,
        reason=guard_note
        + f"{winner} does not beat production {production} on {metric} by more than the margin: "
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
