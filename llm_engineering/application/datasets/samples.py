"""Samples: instruction samples of the extracts, preference samples of those, or a handbook JSON dataset's.

Each function returns a :class:`GenerationReport` that carries the counts and timings of the
run so far, so the last stage can state the whole run's figures.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.datasets import storage
from llm_engineering.application.datasets.extracts import ExtractReport
from llm_engineering.application.datasets.llm_generation import (
    generate_llm_instruction_samples,
    generate_rejected_answers,
)
from llm_engineering.application.datasets.offline import GenericAnswerWriter, OfflineInstructionWriter
from llm_engineering.configs.datasets import InstructionConfig, LLMCallConfig, PreferenceConfig
from llm_engineering.domain.dataset import DatasetType, InstructionSample, Sample
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.llm import LLMClient


class GenerationFailuresExceeded(LLMTwinError):
    """Too many extracts or samples failed; the message gives the counts and examples."""


class GenerationReport(BaseModel):
    """Samples of one generation stage and what failed.

    Attributes:
        dataset_type: the dataset being built.
        strategy: how the samples were made (``offline``, ``llm``, ``offline+rejected:model``, ``handbook``).
        samples: the samples, in input order.
        inputs: extracts (instruction stage) or samples (preference stage) processed.
        extracts: extracts the run started from.
        failures: failed inputs by kind (``malformed``, ``timeout``, ``budget_exhausted``, ``error``).
        failure_examples: the first few failure messages.
        dropped: pairs dropped for other reasons (``not_verbatim``, ``beyond_requested``).
        tokens_used: tokens the model calls spent (None without a model).
        seconds: this stage's time.
        upstream_seconds: the earlier stages' time.
    """

    model_config = ConfigDict(frozen=True)

    dataset_type: DatasetType
    strategy: str
    samples: list[Sample]
    inputs: int
    extracts: int
    failures: dict[str, int] = Field(default_factory=dict)
    failure_examples: list[str] = Field(default_factory=list)
    dropped: dict[str, int] = Field(default_factory=dict)
    tokens_used: int | None = None
    seconds: float = 0.0
    upstream_seconds: float = 0.0

    @property
    def failed(self) -> int:
        """Inputs that failed."""
        return sum(self.failures.values())

    @property
    def failure_ratio(self) -> float:
        """Failed share of the inputs."""
        return self.failed / self.inputs if self.inputs else 0.0

    def raise_if_failures_exceed(self, threshold: float) -> None:
        """Fail the stage when more than ``threshold`` of its inputs failed.

        Raises:
            GenerationFailuresExceeded: with the counts and the first failure messages.
        """
        if self.failure_ratio > threshold:
            examples = "; ".join(self.failure_examples[:3])
            raise GenerationFailuresExceeded(
                f"{self.failed} of {self.inputs} inputs failed ({dict(self.failures)}), above the threshold "
                f"{threshold:.0%} (llm.failure_threshold): {examples}"
            )

    def metadata(self) -> dict[str, Any]:
        """What the generating step logs to ZenML: counts, failures, tokens, time and the summary."""
        return {
            "strategy": self.strategy,
            "inputs": self.inputs,
            "samples": len(self.samples),
            "failures": self.failures,
            "failure_examples": self.failure_examples,
            "dropped_pairs": self.dropped,
            "tokens_used": self.tokens_used or 0,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """One line: samples made, by what, and failures."""
        failures = f", {self.failed} of {self.inputs} failed {dict(self.failures)}" if self.failed else ""
        dropped = f", {sum(self.dropped.values())} pairs dropped {dict(self.dropped)}" if self.dropped else ""
        if self.strategy == "handbook":
            kind, inputs = f"{self.dataset_type} samples", "handbook records"
        elif "+rejected" in self.strategy:
            kind, inputs = "preference samples", "instruction samples"
        else:
            kind, inputs = "instruction samples", "extracts"
        return (
            f"{len(self.samples)} {kind} ({self.strategy}) from {self.inputs} {inputs}"
            f"{failures}{dropped} in {self.seconds:.1f}s"
        )


def _tokens(client: LLMClient | None) -> int | None:
    budget = getattr(client, "budget", None)
    return getattr(budget, "used", None)


def generate_instruction_samples(
    extract_report: ExtractReport,
    *,
    instruction: InstructionConfig,
    llm: LLMCallConfig,
    dataset_type: DatasetType = DatasetType.INSTRUCTION,
    client: LLMClient | None = None,
    progress: bool = True,
) -> GenerationReport:
    """Instruction samples of every extract, with the configured strategy.

    Args:
        extract_report: the extracts.
        instruction: the strategy and how many instructions or pairs per extract.
        llm: per-call options of the ``llm`` strategy.
        dataset_type: for a preference dataset the ``llm`` answers must be copied from the extract.
        client: the LLM (``llm`` strategy only).
        progress: show progress bars.

    Raises:
        ValueError: the ``llm`` strategy without a client.
    """
    started = time.perf_counter()
    extracts = extract_report.extracts
    common = {
        "dataset_type": dataset_type,
        "inputs": len(extracts),
        "extracts": len(extracts),
        "upstream_seconds": extract_report.seconds,
    }
    if instruction.strategy == "offline":
        writer = OfflineInstructionWriter(
            extracts, instructions_per_extract=instruction.instructions_per_extract
        )
        return GenerationReport(
            strategy="offline", samples=writer.samples(), seconds=time.perf_counter() - started, **common
        )
    if client is None:
        raise ValueError("the llm strategy needs an LLM client")
    result = generate_llm_instruction_samples(
        extracts,
        client=client,
        pairs_per_extract=instruction.pairs_per_extract,
        verbatim_answers=dataset_type == DatasetType.PREFERENCE,
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        progress=progress,
    )
    return GenerationReport(
        strategy="llm",
        samples=result.samples,
        failures=dict(result.failures.counts),
        failure_examples=result.failures.examples,
        dropped=dict(result.dropped_pairs),
        tokens_used=_tokens(client),
        seconds=time.perf_counter() - started,
        **common,
    )


def generate_preference_samples(
    instruction_report: GenerationReport,
    *,
    preference: PreferenceConfig,
    llm: LLMCallConfig,
    client: LLMClient | None = None,
    progress: bool = True,
) -> GenerationReport:
    """Preference samples: the instruction, the author's text as chosen, a rejected answer by the strategy.

    Args:
        instruction_report: instruction samples whose answers are the author's text.
        preference: the rejected strategy.
        llm: per-call options of the ``llm`` and ``model`` strategies.
        client: the model writing rejected answers (``llm``, ``model``).
        progress: show progress bars.

    Raises:
        ValueError: a model strategy without a client.
    """
    started = time.perf_counter()
    samples = [s for s in instruction_report.samples if isinstance(s, InstructionSample)]
    strategy = f"{instruction_report.strategy}+rejected:{preference.rejected_strategy}"
    common = {
        "dataset_type": DatasetType.PREFERENCE,
        "strategy": strategy,
        "inputs": len(samples),
        "extracts": instruction_report.extracts,
        "upstream_seconds": instruction_report.upstream_seconds + instruction_report.seconds,
    }
    carried = {
        "failures": instruction_report.failures,
        "failure_examples": instruction_report.failure_examples,
        "dropped": instruction_report.dropped,
    }
    if preference.rejected_strategy == "offline":
        writer = GenericAnswerWriter(samples)
        return GenerationReport(
            samples=writer.samples_with_rejected(),
            tokens_used=instruction_report.tokens_used,
            seconds=time.perf_counter() - started,
            **carried,
            **common,
        )
    if client is None:
        raise ValueError(f"the {preference.rejected_strategy} strategy needs an LLM client")
    result = generate_rejected_answers(
        samples,
        client=client,
        generic=preference.rejected_strategy == "llm",
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        progress=progress,
    )
    failures = Counter(instruction_report.failures)
    failures.update({f"rejected_{kind}": n for kind, n in result.failures.counts.items()})
    return GenerationReport(
        samples=result.samples,
        failures=dict(failures),
        failure_examples=[*instruction_report.failure_examples, *result.failures.examples][:5],
        dropped=instruction_report.dropped,
        tokens_used=(instruction_report.tokens_used or 0) + (_tokens(client) or 0),
        seconds=time.perf_counter() - started,
        **common,
    )


def handbook_samples(
    path: Path, *, dataset_type: DatasetType, expected_digest: str | None = None
) -> GenerationReport:
    """The samples of a handbook-format JSON dataset, each keeping its own split.

    Args:
        path: the JSON file.
        dataset_type: the type the file must hold.
        expected_digest: the file's content hash the run was planned (and cached) with.

    Raises:
        HandbookFormatError: the file is not a ``dataset_type`` dataset in the handbook format, or
            its content is not the one of ``expected_digest``.
    """
    started = time.perf_counter()
    _, samples = storage.load_handbook_json(path, dataset_type=dataset_type, expected_digest=expected_digest)
    return GenerationReport(
        dataset_type=dataset_type,
        strategy="handbook",
        samples=samples,
        inputs=len(samples),
        extracts=0,
        seconds=time.perf_counter() - started,
    )
