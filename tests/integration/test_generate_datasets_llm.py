"""The ``llm`` and ``model`` strategies end to end against the loopback OpenAI-schema server and a tiny Llama.

One extract's answer is always malformed JSON and one extract's answer is too slow: each
loses only its own pairs, counted by kind, and the rest of the batch is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_from_disk

from llm_engineering.application.datasets import flow
from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.extracts import build_extracts
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.dataset import InstructionSample, PreferenceSample
from llm_engineering.infrastructure.llm import LocalTransformersClient, OpenAICompatibleClient
from tests.fakes import build_tiny_llama
from tests.openai_stub import OpenAIStub, Reply, system_text, user_text

pytestmark = pytest.mark.integration

TOPICS = ("feature stores", "chunking", "evaluation", "MALFORMED answers", "SLOW answers", "rollbacks")


def documents() -> list[CleanedDocument]:
    return [
        CleanedDocument(
            id=f"doc-{i}",
            category="articles" if i % 2 else "posts",
            title=f"On {topic}",
            content=f"I have opinions on {topic}. I learned about {topic} the hard way, in production, at 2 am. "
            f"The first lesson about {topic} is that nobody reads the docs. "
            f"The second lesson about {topic} is to measure before changing anything.",
            platform="local",
            author_id="maya",
            author_full_name="Maya Lindqvist",
            link=f"file:///doc-{i}",
            source_hash="h",
        )
        for i, topic in enumerate(TOPICS)
    ]


def answer_of(extract_text: str) -> str:
    """The extract's second sentence: a verbatim passage."""
    return extract_text.split(". ")[1] + "."


def responder(body: dict) -> Reply:
    system, user = system_text(body), user_text(body)
    if "general-purpose assistant" in system:
        return Reply(f"Generally speaking, it depends. {user} There are many factors to consider.")
    if "MALFORMED" in user or "MALFORMED" in json.dumps(body["messages"]):
        return Reply('{"pairs": [{"instruction": "unterminated')
    if "SLOW" in user:
        return Reply("{}", delay=3)
    extract = user.split("Extract:\n", 1)[1]
    topic = extract.split("opinions on ")[1].split(".")[0]
    pairs = [
        {"instruction": f"What did you learn about {topic}?", "answer": answer_of(extract)},
        {
            "instruction": f"How should a team approach {topic}?",
            "answer": f"Teams should measure {topic} first.",
        },
        {"instruction": f"What is the first lesson about {topic}?", "answer": extract.split(". ")[2] + "."},
        {"instruction": "An extra pair nobody asked for.", "answer": "Beyond the requested count."},
    ]
    return Reply(json.dumps({"pairs": pairs}), usage=(100, 60))


@pytest.fixture
def stub():
    with OpenAIStub(responder) as server:
        yield server


@pytest.fixture
def extract_report():
    return build_extracts(documents(), max_length=1000, min_length=50, progress=False)


def endpoint_client(stub: OpenAIStub) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        base_url=stub.base_url,
        model_id="stub-llm",
        timeout_seconds=0.5,
        request_retries=0,
        json_retries=1,
        max_concurrency=3,
    )


def test_llm_pairs_are_validated_and_a_malformed_or_slow_answer_costs_only_its_extract(
    stub, extract_report, tmp_path
):
    config = GenerateDatasetsConfig(
        dataset_type="instruction",
        instruction={"strategy": "llm", "pairs_per_extract": 3},
        split={"test_size": 0.25},
    )
    with endpoint_client(stub) as client:
        report = sample_generation.generate_instruction_samples(
            extract_report, instruction=config.instruction, llm=config.llm, client=client, progress=False
        )

    assert report.strategy == "llm" and report.inputs == 6
    assert report.failures == {"malformed": 1, "timeout": 1}
    assert any("malformed" in e for e in report.failure_examples) and any(
        "timeout" in e for e in report.failure_examples
    )
    assert report.dropped == {"beyond_requested": 4}
    good = {e.id for e in extract_report.extracts if "MALFORMED" not in e.content and "SLOW" not in e.content}
    assert {s.extract_id for s in report.samples} == good and len(report.samples) == 3 * 4
    assert all(isinstance(s, InstructionSample) and s.source == "llm:stub-llm" for s in report.samples)
    assert report.tokens_used and report.tokens_used >= 4 * 160
    malformed_requests = [
        r for r in stub.requests if "MALFORMED" in user_text(r) and "Extract:" in user_text(r)
    ]
    assert len(malformed_requests) == 1  # plus one retry carrying the error
    report.raise_if_failures_exceed(0.5)
    with pytest.raises(sample_generation.GenerationFailuresExceeded, match="2 of 6 inputs failed"):
        report.raise_if_failures_exceed(0.3)

    config = config.model_copy(update={"quality": config.quality.model_copy(update={"min_answer_chars": 10})})
    filtered = flow.filter_generated(report, quality=config.quality)
    built = flow.build_dataset(filtered, split=config.split, output=config.output, root=tmp_path, title="t")
    loaded = load_from_disk(str(built.path))
    assert loaded["train"].column_names == ["instruction", "output", "document_id", "context"]
    assert (
        len(loaded["train"]) + len(loaded["validation"]) + len(loaded["test"]) == len(filtered.samples) == 12
    )


def test_preference_with_llm_pairs_keeps_only_verbatim_answers_and_asks_for_generic_rejected(
    stub, extract_report
):
    config = GenerateDatasetsConfig(
        dataset_type="preference",
        instruction={"strategy": "llm", "pairs_per_extract": 3},
        preference={"rejected_strategy": "llm"},
    )
    with endpoint_client(stub) as client:
        instructions = sample_generation.generate_instruction_samples(
            extract_report,
            instruction=config.instruction,
            llm=config.llm,
            dataset_type="preference",
            client=client,
            progress=False,
        )
        report = sample_generation.generate_preference_samples(
            instructions, preference=config.preference, llm=config.llm, client=client, progress=False
        )

    assert instructions.dropped == {
        "beyond_requested": 4,
        "not_verbatim": 4,
    }  # "Teams should measure ..." is not hers
    contents = {e.id: e.content for e in extract_report.extracts}
    assert len(report.samples) == 2 * 4
    for sample in report.samples:
        assert isinstance(sample, PreferenceSample)
        assert sample.chosen in contents[sample.extract_id]  # chosen is the author's own text
        assert sample.rejected.startswith("Generally speaking") and sample.instruction in sample.rejected
    assert report.strategy == "llm+rejected:llm" and report.failures == {"malformed": 1, "timeout": 1}
    generic_requests = [r for r in stub.requests if "general-purpose assistant" in system_text(r)]
    assert len(generic_requests) == 8


def test_the_model_strategy_takes_rejected_answers_from_a_local_model(tmp_path: Path, extract_report):
    model = build_tiny_llama(tmp_path / "sft-twin")
    config = GenerateDatasetsConfig(
        dataset_type="preference",
        preference={"rejected_strategy": "model", "model": str(model)},
        llm={"max_tokens": 16, "temperature": 0.0},
    )
    instructions = sample_generation.generate_instruction_samples(
        extract_report,
        instruction=config.instruction,
        llm=config.llm,
        dataset_type="preference",
        progress=False,
    )
    with LocalTransformersClient(model, default_max_tokens=16, temperature=0.0) as client:
        report = sample_generation.generate_preference_samples(
            instructions, preference=config.preference, llm=config.llm, client=client, progress=False
        )
    assert report.strategy == "offline+rejected:model"
    assert len(report.samples) + report.failed == len(instructions.samples)
    assert report.samples and all(s.source.endswith(f"rejected:model:{model}") for s in report.samples)
    assert all(
        s.chosen == next(e.content for e in extract_report.extracts if e.id == s.extract_id)
        for s in report.samples
    )
