"""The offline strategies: instructions derived from extracts, answers that are the author's text."""

from __future__ import annotations

import pytest

from llm_engineering.application.datasets import samples as sample_generation
from llm_engineering.application.datasets.extracts import build_extracts
from llm_engineering.application.datasets.offline import (
    GenericAnswerWriter,
    KeyPhrases,
    OfflineInstructionWriter,
)
from llm_engineering.application.datasets.quality import filter_samples
from llm_engineering.application.questions import first_sentence, fragment_reason, question_for
from llm_engineering.configs.datasets import GenerateDatasetsConfig
from llm_engineering.domain.cleaned_documents import CleanedDocument
from llm_engineering.domain.dataset import DatasetType, InstructionSample, PreferenceSample
from tests.fakes import demo_cleaned_documents


def demo_documents() -> list[CleanedDocument]:
    return demo_cleaned_documents()


@pytest.fixture(scope="module")
def extract_report():
    return build_extracts(demo_documents(), max_length=1500, min_length=200, progress=False)


def test_offline_answers_are_the_authors_own_text(extract_report):
    config = GenerateDatasetsConfig(dataset_type="instruction")
    report = sample_generation.generate_instruction_samples(
        extract_report, instruction=config.instruction, llm=config.llm, progress=False
    )
    documents = {d.id: d.content for d in demo_documents()}
    extracts = {e.id: e for e in extract_report.extracts}

    assert report.strategy == "offline" and not report.failures
    assert len(extract_report.extracts) < len(report.samples) <= 2 * len(extract_report.extracts)
    for sample in report.samples:
        assert isinstance(sample, InstructionSample)
        assert sample.answer == extracts[sample.extract_id].content
        for block in sample.answer.split("\n\n"):
            assert block in documents[sample.document_id]
        assert sample.instruction.strip() and sample.instruction not in sample.answer
    # Instructions vary within an extract.
    per_extract: dict[str, set[str]] = {}
    for sample in report.samples:
        per_extract.setdefault(sample.extract_id, set()).add(sample.instruction)
    assert all(len(instructions) >= 1 for instructions in per_extract.values())
    assert len(per_extract) == len(extract_report.extracts)  # every extract is asked about


def test_offline_generation_is_deterministic(extract_report):
    first = OfflineInstructionWriter(extract_report.extracts, instructions_per_extract=3).samples()
    again = OfflineInstructionWriter(extract_report.extracts, instructions_per_extract=3).samples()
    assert first == again


def test_instructions_come_from_title_heading_phrases_and_first_sentence(extract_report):
    writer = OfflineInstructionWriter(extract_report.extracts, instructions_per_extract=4)
    instructions = [i for position in range(len(writer.extracts)) for i in writer.instructions(position)]

    # the title, in one of two templates picked by the extract's id (which follows the checkout's path)
    assert {
        'What is your article "Chunking Is a Product Decision" about?',
        'Why did you write "Chunking Is a Product Decision"?',
    } & set(instructions)
    assert any('"The experiment that changed your mind"' in i for i in instructions)  # a heading
    assert "Tell me about the time you shipped a new ranking model at 4 pm on a Friday." in instructions
    assert 'In "LoRA on a Laptop", what do you say about accumulation steps?' in instructions  # a key phrase
    assert all(i.endswith("?") or i.startswith("Tell me") for i in instructions)  # questions a reader asks
    assert all(fragment_reason(i) is None for i in instructions)


@pytest.mark.parametrize(
    "fragment",
    [
        "What is your take on wrong and fixes?",
        "How do you think about adapter and base model?",
        "Explain online, fast and timestamp in your own words.",
        "Write a passage about refunds, overlap and row.",
        "What do you think about the?",
        "Write a passage.",
    ],
)
def test_fragments_that_name_no_topic_are_recognised_and_filtered(fragment):
    assert fragment_reason(fragment) is not None
    answer = "An answer of the author that is long enough to pass the length filter of the quality step."
    sample = InstructionSample(
        instruction=fragment, answer=answer, category="articles", extract_id="e", document_id="d", source="t"
    )
    kept, counts = filter_samples([sample], min_instruction_chars=5, min_answer_chars=10)
    assert kept == [] and counts.fragment_instruction == 1


@pytest.mark.parametrize(
    "question",
    [
        "Why were my RAG answers wrong, and what did I change?",
        "How do you pick chunk sizes for a RAG system?",
        'What is your article "Idempotent Pipelines" about?',
        "What is a feature store?",
    ],
)
def test_questions_that_name_their_topic_are_kept(question):
    assert fragment_reason(question) is None


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        ("A chunk is the unit of evidence your model gets to see.", "What is a chunk?"),
        ("Feature stores are mostly a caching problem.", "What are feature stores?"),
        ("My favourite eval is a spreadsheet.", "What is your favourite eval?"),
        ("To make rollback boring, keep the previous model warm.", "How do you make rollback boring?"),
        (
            "If shipping on Friday scares you, the problem is not the day.",
            "What do you advise if shipping on Friday scares you?",
        ),
        (
            "We shipped a new model on a Friday afternoon.",
            "Tell me about the time you shipped a new model on a Friday afternoon.",
        ),
        ("Why do my answers drift?", "Why do your answers drift?"),
        ("It is what it is.", None),
        ("The third one is worse.", None),
        ("Nobody remembered why.", None),
    ],
)
def test_the_question_a_first_sentence_answers(sentence, question):
    assert question_for(sentence) == question


def test_first_sentence_skips_headings_lists_and_code():
    text = "## Heading\n\n- a list item here\n\n```\ncode = 1\n```\n\nThe real text starts here. Then more."
    assert first_sentence(text) == "The real text starts here."


def test_key_phrases_prefer_repeated_topic_words_over_common_ones():
    texts = [
        "Feature stores cache features. A feature store keeps training-serving skew away. Feature stores help.",
        "Chunking decides retrieval quality. Chunking by headings keeps procedures whole. The model helps.",
        "The model answers questions. The model helps.",
    ]
    top = KeyPhrases(texts).top(1)
    assert top[0] == "Chunking"
    assert "model" not in top


def test_generic_rejected_answers_are_not_the_authors_text(extract_report):
    samples = OfflineInstructionWriter(extract_report.extracts).samples()
    preference = GenericAnswerWriter(samples).samples_with_rejected()

    assert len(preference) == len(samples)
    for sample, pair in zip(samples, preference, strict=True):
        assert isinstance(pair, PreferenceSample)
        assert pair.instruction == sample.instruction and pair.chosen == sample.answer
        assert pair.rejected != pair.chosen and pair.rejected not in pair.chosen
    assert len({p.rejected for p in preference}) > len(preference) // 4  # topics and templates vary
    config = GenerateDatasetsConfig(dataset_type=DatasetType.PREFERENCE)
    report = sample_generation.generate_preference_samples(
        sample_generation.GenerationReport(
            dataset_type=DatasetType.PREFERENCE, strategy="offline", samples=samples, inputs=1, extracts=1
        ),
        preference=config.preference,
        llm=config.llm,
    )
    assert report.strategy == "offline+rejected:offline" and report.samples == preference
