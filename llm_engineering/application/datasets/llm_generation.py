"""The ``llm`` and ``model`` strategies: samples and rejected answers written by a language model.

- Instructions (``llm``): for each extract the model returns ``{"pairs": [{"instruction",
  "answer"}, ...]}`` in the author's voice, validated by pydantic. For a preference dataset
  the answers must be passages copied from the extract (``verbatim_answers``), so that
  ``chosen`` stays the author's own text; a pair whose answer is not found in the extract is
  dropped and counted.
- Rejected answers (``llm``): the model answers each instruction as a generic assistant.
- Rejected answers (``model``): a given model answers each instruction as it is asked, with
  nothing added: with the SFT twin as the model this is self-play, its own answers becoming
  the rejected side.

Failures stay per item: a malformed answer (after the client's JSON retries), a timeout or
an endpoint error loses that extract's pairs (or that sample) only, and is counted by kind; a
spent token budget stops further calls. Any other error is a bug and fails the run. Calls run
on a thread pool bounded by the client's ``max_concurrency``, with a progress bar.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from tqdm.auto import tqdm

from llm_engineering.domain.dataset import (
    Extract,
    InstructionAnswerSet,
    InstructionSample,
    PreferenceSample,
)
from llm_engineering.domain.llm import (
    BudgetExhausted,
    ChatMessage,
    LLMClient,
    LLMError,
    LLMTimeout,
    MalformedOutput,
)

Item = TypeVar("Item")
R = TypeVar("R")

_MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of one item: a value, or the error that replaced it."""

    value: R | None = None
    error: Exception | None = None


def run_concurrently(
    fn: Callable[[Item], R],
    items: Sequence[Item],
    *,
    max_workers: int,
    desc: str,
    expected: tuple[type[Exception], ...] = (LLMError,),
    progress: bool = True,
) -> list[Outcome[R]]:
    """``fn`` over ``items`` on at most ``max_workers`` threads; results in input order, errors kept per item.

    Args:
        fn: the call to make per item.
        items: the inputs.
        max_workers: threads (the client's ``max_concurrency``).
        desc: progress bar label.
        expected: the errors an item may fail with (the model's: malformed output, timeout, spent
            budget, endpoint errors); any other error is a bug and fails the whole run.
        progress: show a progress bar.
    """

    def guarded(item: Item) -> Outcome[R]:
        try:
            return Outcome(value=fn(item))
        except expected as exc:  # recorded per item and counted by the caller, never swallowed
            return Outcome(error=exc)

    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="llm") as pool:
        return list(tqdm(pool.map(guarded, items), total=len(items), desc=desc, disable=not progress))


def failure_kind(error: Exception) -> str:
    """The counter an item's error goes to."""
    if isinstance(error, MalformedOutput):
        return "malformed"
    if isinstance(error, LLMTimeout):
        return "timeout"
    if isinstance(error, BudgetExhausted):
        return "budget_exhausted"
    return "error"


class Failures:
    """Failures counted by kind, with the first few messages as examples."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[str] = []

    def add(self, error: Exception, *, item: str) -> None:
        kind = failure_kind(error)
        self.counts[kind] += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(f"{item}: {kind}: {error}")


def _normalise_space(text: str) -> str:
    return " ".join(text.split())


def instruction_messages(extract: Extract, *, pairs: int, verbatim_answers: bool) -> list[ChatMessage]:
    """The chat that asks for ``pairs`` instruction-answer pairs about one extract."""
    author = extract.author_full_name
    if verbatim_answers:
        answer_rule = (
            "Each answer is a passage copied word for word from the extract (one or more whole "
            "sentences) that answers the instruction; do not change, add or remove a word."
        )
    else:
        answer_rule = (
            f"Each answer is written in {author}'s voice (first person, their tone and vocabulary) "
            "and uses only facts from the extract."
        )
    system = (
        f"You write training data for an 'LLM twin' of {author}: a model that writes like them. "
        f"From the extract of their writing, write {pairs} different instruction-answer pairs. "
        "Each instruction is a question or request a reader could make that the extract answers; "
        f"it must make sense without the extract. {answer_rule} "
        'Answer with only a JSON object: {"pairs": [{"instruction": "...", "answer": "..."}]}.'
    )
    header = f"Title: {extract.title}\n" if extract.title else ""
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{header}Extract:\n{extract.content}"},
    ]


@dataclass
class LLMGeneration:
    """Samples made by a model, and what failed."""

    samples: list
    failures: Failures
    dropped_pairs: Counter[str]
    seconds: float


def generate_llm_instruction_samples(
    extracts: Sequence[Extract],
    *,
    client: LLMClient,
    pairs_per_extract: int,
    verbatim_answers: bool = False,
    max_tokens: int | None = None,
    temperature: float | None = None,
    progress: bool = True,
) -> LLMGeneration:
    """Instruction samples written by ``client``, up to ``pairs_per_extract`` per extract.

    Args:
        extracts: the extracts.
        client: the LLM.
        pairs_per_extract: pairs asked for (extra pairs are dropped and counted).
        verbatim_answers: answers must be copied from the extract (preference datasets).
        max_tokens: most answer tokens per call.
        temperature: sampling temperature.
        progress: show a progress bar.
    """
    started = time.perf_counter()

    def ask(extract: Extract) -> InstructionAnswerSet:
        messages = instruction_messages(extract, pairs=pairs_per_extract, verbatim_answers=verbatim_answers)
        return client.complete_json(
            messages, InstructionAnswerSet, max_tokens=max_tokens, temperature=temperature
        )

    outcomes = run_concurrently(
        ask, extracts, max_workers=client.max_concurrency, desc="instruction pairs (llm)", progress=progress
    )
    failures = Failures()
    dropped: Counter[str] = Counter()
    samples: list[InstructionSample] = []
    source = f"llm:{client.model_id}"
    for extract, outcome in zip(extracts, outcomes, strict=True):
        if outcome.error is not None:
            failures.add(outcome.error, item=f"extract {extract.id}")
            continue
        pairs = outcome.value.pairs
        if len(pairs) > pairs_per_extract:
            dropped["beyond_requested"] += len(pairs) - pairs_per_extract
            pairs = pairs[:pairs_per_extract]
        content = _normalise_space(extract.content)
        for pair in pairs:
            if verbatim_answers and _normalise_space(pair.answer) not in content:
                dropped["not_verbatim"] += 1
                continue
            samples.append(
                InstructionSample(
                    instruction=pair.instruction.strip(),
                    answer=pair.answer.strip(),
                    category=extract.category,
                    extract_id=extract.id,
                    document_id=extract.document_id,
                    source=source,
                )
            )
    return LLMGeneration(samples, failures, dropped, time.perf_counter() - started)


GENERIC_ASSISTANT = (
    "You are a general-purpose assistant. Answer the request briefly, in a neutral and generic tone, "
    "without personal anecdotes or opinions."
)


def rejected_messages(instruction: str, *, generic: bool) -> list[ChatMessage]:
    """The chat that asks for a rejected answer: as a generic assistant (``llm``) or as asked (``model``)."""
    user: ChatMessage = {"role": "user", "content": instruction}
    if generic:
        return [{"role": "system", "content": GENERIC_ASSISTANT}, user]
    return [user]


def generate_rejected_answers(
    samples: Sequence[InstructionSample],
    *,
    client: LLMClient,
    generic: bool,
    max_tokens: int | None = None,
    temperature: float | None = None,
    progress: bool = True,
) -> LLMGeneration:
    """Preference samples whose rejected answer ``client`` wrote; chosen is the sample's own answer.

    Args:
        samples: instruction samples whose answers are the author's text.
        client: the model that writes the rejected answers.
        generic: ask for a generic assistant's answer (``llm`` strategy) rather than the model's own
            answer to the bare instruction (``model`` strategy, self-play).
        max_tokens: most answer tokens per call.
        temperature: sampling temperature.
        progress: show a progress bar.
    """
    started = time.perf_counter()
    strategy = "llm" if generic else "model"

    def ask(sample: InstructionSample) -> str:
        text = client.complete(
            rejected_messages(sample.instruction, generic=generic),
            max_tokens=max_tokens,
            temperature=temperature,
        ).strip()
        if not text:
            raise LLMError("empty answer")
        return text

    outcomes = run_concurrently(
        ask,
        samples,
        max_workers=client.max_concurrency,
        desc=f"rejected answers ({strategy})",
        progress=progress,
    )
    failures = Failures()
    preference: list[PreferenceSample] = []
    for sample, outcome in zip(samples, outcomes, strict=True):
        if outcome.error is not None:
            failures.add(outcome.error, item=f"sample of extract {sample.extract_id}")
            continue
        preference.append(
            PreferenceSample(
                instruction=sample.instruction,
                chosen=sample.answer,
                rejected=outcome.value,
                category=sample.category,
                extract_id=sample.extract_id,
                document_id=sample.document_id,
                source=f"{sample.source}+rejected:{strategy}:{client.model_id}",
            )
        )
    return LLMGeneration(preference, failures, Counter(), time.perf_counter() - started)
