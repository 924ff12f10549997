"""The LLM judge against a loopback OpenAI-schema server that also answers malformed JSON, errors and times out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.configs import load_config
from llm_engineering.configs.evaluating import EvaluatingConfig
from llm_engineering.infrastructure.llm import OpenAICompatibleClient
from llm_engineering.model.evaluation.judge import judge_answers
from llm_engineering.model.evaluation.report import format_table, render_html, save_results
from llm_engineering.model.evaluation.results import EvalSample, EvaluationAnswers, VersionAnswers
from llm_engineering.model.evaluation.score import score_answers
from tests.evaluation_fixtures import author_texts, instructions
from tests.openai_stub import OpenAIStub, Reply, user_text

pytestmark = pytest.mark.integration


def responder(body: dict) -> Reply:
    """Score by a marker in the answer: GOOD 3s, MID 2s in a code fence, BAD prose, RANGE out of scale,
    ERR an HTTP 500, SLOW past the client's timeout; anything else 1s."""
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")  # retries append turns
    answer = first_user.split("Answer to score:")[1]
    if "GOOD" in answer:
        return Reply(json.dumps({"accuracy": 3, "style": 3, "author": 3}))
    if "MID" in answer:
        return Reply('Here you go:\n```json\n{"accuracy": 2, "style": 2, "author": 2}\n```')
    if "BAD" in answer:
        return Reply("I would say it is quite good overall.")
    if "RANGE" in answer:
        return Reply(json.dumps({"accuracy": 5, "style": 3, "author": 3}))
    if "ERR" in answer:
        return Reply("overloaded", status=500)
    if "SLOW" in answer:
        return Reply(json.dumps({"accuracy": 3, "style": 3, "author": 3}), delay=1.5)
    return Reply(json.dumps({"accuracy": 1, "style": 1, "author": 1}))


@pytest.fixture
def stub():
    with OpenAIStub(responder) as server:
        yield server


def judge_client(stub: OpenAIStub) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        base_url=stub.base_url,
        model_id="judge",
        timeout_seconds=0.5,
        request_retries=0,
        json_retries=1,
        max_concurrency=3,
        temperature=0.0,
    )


def test_failed_replies_are_missing_scores_counted_never_a_crash(stub: OpenAIStub):
    answers = ["GOOD one", "MID one", "BAD one", "RANGE one", "ERR one", "SLOW one", "plain"]
    with judge_client(stub) as client:
        result = judge_answers(
            client=client,
            instructions=[f"question {i}" for i in range(len(answers))],
            answers=answers,
            references=[f"reference {i}" for i in range(len(answers))],
            author="Ada Byron",
            passages=["Moreover, the pipeline ought to be organised."],
        )
    assert result.scored == 3 and result.missing == 4
    assert [v is not None for v in result.verdicts] == [True, True, False, False, False, False, True]
    assert result.means == {"accuracy": 2.0, "style": 2.0, "author": 2.0}  # (3 + 2 + 1) / 3
    assert any("500" in e for e in result.errors) and any("within 0.5s" in e for e in result.errors)
    prompt = user_text(stub.requests[0])
    assert "Passages by Ada Byron" in prompt and "Moreover, the pipeline ought to be organised." in prompt
    # malformed replies were asked again once (json_retries=1): BAD and RANGE cost two requests each
    assert sum("BAD one" in r["messages"][1]["content"] for r in stub.requests) == 2
    assert stub.max_in_flight <= 3


def test_scoring_with_the_judge_reports_scores_notes_and_a_promotion(stub: OpenAIStub, tmp_path: Path):
    references = author_texts("ada", 8, seed=3)
    samples = [
        EvalSample(instruction=q, reference=r)
        for q, r in zip(instructions(8, seed=3), references, strict=True)
    ]
    twin = [f"GOOD {t}" for t in author_texts("ada", 8, seed=4)]
    base = [f"SLOW {t}" if i < 2 else t for i, t in enumerate(author_texts("bo", 8, seed=4))]
    answers = EvaluationAnswers(
        author="Ada Byron",
        dataset="memory",
        samples=samples,
        versions=[
            VersionAnswers(name="base", stage="base", folder="b", answers=base, perplexity=90.0, seconds=2.0),
            VersionAnswers(
                name="r1-sft", stage="sft", folder="s", answers=twin, perplexity=12.0, seconds=2.0
            ),
        ],
        production="base",
        metrics=["author_perplexity", "style_distance", "attribution_rate", "rouge_l", "retrieval"],
        author_texts=author_texts("ada", 30, seed=0),
    )
    config = load_config(
        EvaluatingConfig,
        None,
        ["judge.mode=on", "promotion.primary_metric=judge_author", "arms=[bare]", "promotion.arm=bare"],
    )
    others = [" ".join(author_texts("bo", 3, seed=50 + i)) for i in range(10)]
    with judge_client(stub) as client:
        results = score_answers(answers, config=config, judge=client, other_documents=others, progress=False)
    base_scores, twin_scores = results.versions[0].scores, results.versions[1].scores
    assert twin_scores["judge_author"] == 3.0 and base_scores["judge_author"] == 1.0
    assert results.versions[0].details["judge_missing"] == 2
    assert any("2 of 8 answers of base/bare got no score" in n for n in results.notes)
    low, high = results.versions[1].intervals["judge_author"]
    assert low == high == 3.0  # every scored answer a 3
    assert all(
        results.versions[0].intervals[m] is not None for m in ("loop_rate", "rouge_l", "style_distance")
    )
    assert any(n.startswith("retrieval: no vector store") for n in results.notes)
    assert twin_scores["style_distance"] < base_scores["style_distance"]
    assert twin_scores["attribution_rate"] > base_scores["attribution_rate"]
    assert results.details["attribution"]["classifier_accuracy"] >= 0.8
    assert results.promotion.promote and results.promotion.winner == "r1-sft"

    table = format_table(results)
    assert table.splitlines()[0].startswith("bare arm: no passages")
    assert table.splitlines()[1].split() == ["metric", "base", "(production)", "r1-sft"]
    assert any(line.startswith("author_perplexity ↓") for line in table.splitlines())
    assert "3.000 [3.000, 3.000]" in table  # each score with its 95% interval
    assert "r1-sft" in table and "base (production)" in table and "promotion (promoted)" in table
    folder = save_results(results, root=tmp_path / "evaluation")
    saved = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert saved["versions"][1]["scores"]["judge_author"] == 3.0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page == render_html(results)
    assert "<script" not in page and "<svg" in page and "reference (Ada Byron)" in page
    assert samples[0].instruction in page
