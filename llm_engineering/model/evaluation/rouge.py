"""Reference overlap: ROUGE-L F1 of an answer against the author's reference answer.

ROUGE-L measures the longest common subsequence (LCS) of words: the longest run of words
that appear in both texts in the same order, gaps allowed. Precision is LCS / answer
length, recall LCS / reference length, and F1 their harmonic mean, in [0, 1]. 1 means the
answer repeats the reference word for word; 0 means no word in common. It rewards the
author's wording and facts, and says nothing of style on its own. Words are lower-cased
runs of letters, digits and apostrophes (no stemming), so the figure is reproducible
without extra dependencies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[\w']+")


def rouge_tokens(text: str) -> list[str]:
    """The lower-cased words ROUGE-L compares."""
    return _WORD.findall(text.lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming, two rows)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if item == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 of ``answer`` against ``reference``; 0.0 when either has no words."""
    candidate, target = rouge_tokens(answer), rouge_tokens(reference)
    if not candidate or not target:
        return 0.0
    common = lcs_length(candidate, target)
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate), common / len(target)
    return 2 * precision * recall / (precision + recall)


def mean_rouge_l(answers: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F1 over answer/reference pairs (in order).

    Raises:
        ValueError: the two lists differ in length or are empty.
    """
    if len(answers) != len(references) or not answers:
        raise ValueError(
            f"need as many answers as references, at least one ({len(answers)} vs {len(references)})"
        )
    return sum(rouge_l(a, r) for a, r in zip(answers, references, strict=True)) / len(answers)
