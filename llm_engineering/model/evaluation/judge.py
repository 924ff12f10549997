"""LLM judge: an OpenAI-compatible model scores each answer (only when an endpoint is configured).

Three scores per answer, each on the LLM Engineer's Handbook's 1-3 scale:

- **accuracy**: 1 = factually wrong or off the question, 2 = mostly right with gaps or minor
  errors, 3 = right and complete (judged against the author's reference answer);
- **style**: 1 = too formal or stiff for a blog or social post, 2 = readable but generic,
  3 = the plain, direct, engaging register of a good technical blog post;
- **author**: does it sound like this author, given a few of the author's own passages:
  1 = not at all, 2 = somewhat, 3 = could pass as theirs.

The judge must answer with a JSON object ``{"accuracy": n, "style": n, "author": n}``. A
reply that fails (HTTP error, timeout, no valid JSON after the client's retries) gives a
missing score for that answer, counted per version, and never stops the run; the means are
over the answers that were scored.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field

from llm_engineering.domain.llm import LLMClient, LLMError

JUDGE_SCORES = ("accuracy", "style", "author")

Score = Annotated[int, Field(ge=1, le=3)]


class JudgeVerdict(BaseModel):
    """The judge's JSON answer for one answer."""

    accuracy: Score
    style: Score
    author: Score


JUDGE_SYSTEM = (
    "You are a strict evaluator of answers written by a model that imitates one author. "
    "Reply with only a JSON object."
)

JUDGE_PROMPT = """Score the answer below on three criteria, each 1, 2 or 3.

accuracy: 1 = factually wrong or off the question; 2 = mostly right, with gaps or minor errors; \
3 = right and complete compared with the author's reference answer.
style: 1 = too formal or stiff for a blog post or social media; 2 = readable but generic; \
3 = the plain, direct, engaging register of a good technical blog post.
author: does it sound like {author}, judging by the passages of theirs below? 1 = not at all; \
2 = somewhat; 3 = it could pass as theirs.

Passages by {author}:
{passages}

Instruction:
{instruction}

Reference answer by {author}:
{reference}

Answer to score:
{answer}

Reply with only this JSON object: {{"accuracy": <1-3>, "style": <1-3>, "author": <1-3>}}"""


def judge_messages(
    *, instruction: str, answer: str, reference: str, author: str, passages: Sequence[str]
) -> list[dict[str, str]]:
    """The chat asking the judge to score one answer."""
    joined = "\n\n".join(f"---\n{p}" for p in passages) or "(none available)"
    prompt = JUDGE_PROMPT.format(
        author=author, passages=joined, instruction=instruction, reference=reference, answer=answer
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]


@dataclass
class JudgeResult:
    """The judge's scores of one version's answers.

    Attributes:
        means: score name -> mean over the scored answers (None when none was scored).
        scored: answers that got scores.
        missing: answers whose judging failed.
        verdicts: per answer, its verdict or None.
        errors: the first few failure messages.
    """

    means: dict[str, float | None]
    scored: int
    missing: int
    verdicts: list[JudgeVerdict | None] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def judge_answers(
    *,
    client: LLMClient,
    instructions: Sequence[str],
    answers: Sequence[str],
    references: Sequence[str],
    author: str,
    passages: Sequence[str],
    max_tokens: int = 128,
) -> JudgeResult:
    """Score every answer with the judge, ``client.max_concurrency`` requests at a time.

    Args:
        client: the judge (an OpenAI-compatible client).
        instructions: the test instructions.
        answers: one version's answers, aligned with the instructions.
        references: the author's reference answers, aligned.
        author: the author's name.
        passages: a few of the author's own passages, shown for the "author" score.
        max_tokens: most tokens per judge reply.
    """

    def one(i: int) -> JudgeVerdict:
        messages = judge_messages(
            instruction=instructions[i],
            answer=answers[i],
            reference=references[i],
            author=author,
            passages=passages,
        )
        return client.complete_json(messages, JudgeVerdict, max_tokens=max_tokens, temperature=0.0)

    verdicts: list[JudgeVerdict | None] = [None] * len(answers)
    errors: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, client.max_concurrency)) as pool:
        futures = {pool.submit(one, i): i for i in range(len(answers))}
        for future in concurrent.futures.as_completed(futures):
            try:
                verdicts[futures[future]] = future.result()
            except LLMError as exc:  # timeouts, HTTP errors, malformed JSON: a missing score
                errors.append(str(exc))
    scored = [v for v in verdicts if v is not None]
    means = {
        name: (sum(getattr(v, name) for v in scored) / len(scored) if scored else None)
        for name in JUDGE_SCORES
    }
    return JudgeResult(
        means=means,
        scored=len(scored),
        missing=len(answers) - len(scored),
        verdicts=verdicts,
        errors=errors[:5],
    )
