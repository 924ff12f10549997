"""The runtime-agreement benchmark compares two evaluation results score by score."""

from bench.runtime_agreement import agreement_rows


def _result(score: float, interval: list[float]) -> dict:
    return {
        "versions": [
            {
                "name": "run-sft",
                "arm": "served",
                "scores": {"style_distance": score, "judge_style": None},
                "intervals": {"style_distance": interval, "judge_style": None},
            }
        ]
    }


def test_overlapping_intervals_agree_and_disjoint_ones_do_not() -> None:
    [row] = agreement_rows(_result(0.20, [0.18, 0.24]), _result(0.22, [0.21, 0.27]))
    assert row[:3] == ("run-sft", "served", "style_distance") and row[-1] is True
    [row] = agreement_rows(_result(0.20, [0.18, 0.24]), _result(0.40, [0.30, 0.45]))
    assert row[-1] is False


def test_versions_or_scores_missing_on_one_side_are_skipped() -> None:
    other = {"versions": [{**_result(0.2, [0.1, 0.3])["versions"][0], "arm": "bare"}]}
    assert agreement_rows(_result(0.2, [0.1, 0.3]), other) == []
