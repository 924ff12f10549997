"""Dataset samples: extracts of the author's writing and the instruction and preference samples made from them.

An :class:`Extract` is a piece of one cleaned document, sized for one training answer; it
keeps the document's id, author, category and title so every sample can be traced back to
the text it came from, and so the train/test split can keep all samples of one extract (or
one document) on the same side. Nothing here does I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.domain.types import DataCategory


class DatasetType(StrEnum):
    """The two datasets the pipeline builds: instruction pairs for SFT, preference triples for DPO."""

    INSTRUCTION = "instruction"
    PREFERENCE = "preference"


Split = Literal["train", "validation", "test"]


class Extract(BaseModel):
    """A passage of one cleaned document, the unit samples are generated from.

    Attributes:
        id: deterministic from the document id, the position and the text.
        document_id: id of the cleaned (and raw) document.
        index: position of the extract in its document, from 0.
        category: articles, posts or repositories.
        author_full_name: the author, as stored.
        title: the document's title, when it has one.
        heading: the nearest Markdown heading at or before the start of the extract, if any.
        content: the author's own text, verbatim from the cleaned document.
        link: where the document was crawled from.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    document_id: str
    index: int
    category: DataCategory
    author_full_name: str
    title: str | None = None
    heading: str | None = None
    content: str
    link: str = ""


class _Sample(BaseModel):
    model_config = ConfigDict(frozen=True)

    instruction: str
    category: DataCategory
    extract_id: str
    """The extract the sample was made from; handbook samples use their own sample id."""
    document_id: str
    """The document of the extract; the train/test split groups samples by it (or by extract)."""
    source: str
    """How the sample was made: ``offline``, ``llm``, ``model:<id>`` or ``handbook``."""
    split: Split | None = None
    """A split fixed by the input (handbook JSON keeps its own split); None: the splitter decides."""
    context: tuple[str, ...] = ()
    """Retrieved passages of the author the prompt carries (``chat.build_messages(context=...)``),
    best first; empty: a prompt without passages."""


class InstructionSample(_Sample):
    """An instruction and the answer the twin should learn to give (column ``output`` in the dataset)."""

    kind: Literal["instruction"] = "instruction"
    answer: str


class PreferenceSample(_Sample):
    """An instruction (column ``prompt``), the author's own answer and a worse one."""

    kind: Literal["preference"] = "preference"
    chosen: str
    rejected: str


Sample = Annotated[InstructionSample | PreferenceSample, Field(discriminator="kind")]
"""Either kind of sample; ``kind`` tells them apart when they are read back from JSON."""


class InstructionAnswer(BaseModel):
    """One pair as an LLM writes it in JSON."""

    instruction: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class InstructionAnswerSet(BaseModel):
    """The JSON object an LLM returns for one extract: ``{"pairs": [{"instruction", "answer"}, ...]}``."""

    pairs: list[InstructionAnswer] = Field(min_length=1)


DATASET_COLUMNS: dict[DatasetType, tuple[str, ...]] = {
    DatasetType.INSTRUCTION: ("instruction", "output"),
    DatasetType.PREFERENCE: ("prompt", "chosen", "rejected"),
}
"""Columns every saved dataset of a type has (training refuses a dataset without them)."""

ROW_COLUMNS: tuple[str, ...] = ("document_id", "context")
"""Columns a generated dataset adds: the document of the row's answer (the split is by document)
and the passages its prompt carries (a list of strings)."""


def sample_row(sample: Sample) -> dict[str, str | list[str]]:
    """The dataset row of a sample: the columns of :data:`DATASET_COLUMNS`, then :data:`ROW_COLUMNS`."""
    extra: dict[str, str | list[str]] = {"document_id": sample.document_id, "context": list(sample.context)}
    if isinstance(sample, PreferenceSample):
        return {"prompt": sample.instruction, "chosen": sample.chosen, "rejected": sample.rejected, **extra}
    return {"instruction": sample.instruction, "output": sample.answer, **extra}


def sample_answer(sample: Sample) -> str:
    """The author's side of a sample: the answer of an instruction sample, ``chosen`` of a preference one."""
    return sample.chosen if isinstance(sample, PreferenceSample) else sample.answer
