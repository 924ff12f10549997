"""Small in-process fakes of the ports, for unit tests of the dataset flow.

:class:`InMemoryVectorStore` implements the :class:`~llm_engineering.domain.vector_store.VectorStore`
protocol (payload filters, paged ``scroll`` in id order); it records every call so tests can
check that documents are read in pages. :class:`ScriptedLLM` implements the LLM port with
answers given in advance.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from llm_engineering.domain.cleaned_documents import CleanedDocument, cleaned_collection
from llm_engineering.domain.dataset import InstructionSample
from llm_engineering.domain.llm import ChatMessage, LLMError, MalformedOutput
from llm_engineering.domain.vector_store import Filters, Point, ScoredPoint
from llm_engineering.infrastructure.llm.base import parse_json_object

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo"


def demo_cleaned_documents(author_full_name: str = "Maya Lindqvist") -> list[CleanedDocument]:
    """The demo author's Markdown articles and posts as cleaned documents (title: the first heading of an article)."""
    documents = []
    for path in sorted(DEMO_CORPUS.glob("articles/*.md")) + sorted(DEMO_CORPUS.glob("posts/*.md")):
        text = path.read_text(encoding="utf-8")
        category = path.parent.name
        documents.append(
            CleanedDocument(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, path.as_uri())),
                category=category,
                title=text.split("\n", 1)[0].lstrip("# ").strip() if category == "articles" else None,
                content=text,
                platform="local",
                author_id="maya",
                author_full_name=author_full_name,
                link=path.as_uri(),
                source_hash=str(len(text)),
            )
        )
    return documents


def instruction_samples(n: int = 12) -> list[InstructionSample]:
    """``n`` instruction samples in the author's voice, two per document, long enough to pass the filters."""
    return [
        InstructionSample(
            instruction=f"What do you think about feature store number {i}?",
            answer=f"My own words on topic {i}, written the way I always write them, with enough length to pass. "
            * 2,
            category="articles" if i % 3 else "posts",
            extract_id=f"e{i}",
            document_id=f"d{i // 2}",
            source="test",
        )
        for i in range(n)
    ]


def _matches(payload: dict[str, Any], filters: Filters | None) -> bool:
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            if payload.get(key) not in {str(v) for v in value}:
                return False
        elif payload.get(key) != str(value):
            return False
    return True


class InMemoryVectorStore:
    """The vector store port in a dict; ``calls`` lists ``(method, collection, kwargs)``."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, Point]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def ensure_collection(
        self, name: str, *, vector_size: int | None, indexed_fields: Sequence[str] = ()
    ) -> None:
        self.calls.append(("ensure_collection", name, {}))
        self.collections.setdefault(name, {})

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        self.calls.append(("upsert", name, {"points": len(points)}))
        self.collections.setdefault(name, {}).update({p.id: p for p in points})

    def search(
        self, name: str, vector: Sequence[float], *, k: int, filters: Filters | None = None
    ) -> list[ScoredPoint]:
        raise NotImplementedError("the dataset flow never searches")

    def scroll(
        self, name: str, *, filters: Filters | None = None, limit: int = 256, offset: str | None = None
    ) -> tuple[list[Point], str | None]:
        self.calls.append(("scroll", name, {"limit": limit, "offset": offset}))
        points = sorted(
            (p for p in self.collections.get(name, {}).values() if _matches(p.payload, filters)),
            key=lambda p: p.id,
        )
        if offset is not None:
            points = [p for p in points if p.id >= offset]
        page = points[:limit]
        next_offset = points[limit].id if len(points) > limit else None
        return page, next_offset

    def delete(self, name: str, *, ids: Sequence[str] | None = None, filters: Filters | None = None) -> None:
        collection = self.collections.get(name, {})
        for point_id in list(collection):
            if (ids is None or point_id in ids) and _matches(collection[point_id].payload, filters):
                del collection[point_id]

    def count(self, name: str, *, filters: Filters | None = None) -> int:
        return sum(1 for p in self.collections.get(name, {}).values() if _matches(p.payload, filters))

    def collection_exists(self, name: str) -> bool:
        return name in self.collections

    def add_documents(self, documents: Iterable[CleanedDocument]) -> None:
        """Store cleaned documents the way the feature pipeline does (payload with ``document_id``)."""
        for document in documents:
            self.upsert(
                cleaned_collection(document.category),
                [Point(id=document.id, payload={**document.to_payload(), "document_id": document.id})],
            )


Answer = str | Exception | Callable[[Sequence[ChatMessage]], str]


class ScriptedLLM:
    """The LLM port answering from a script: a function of the messages, or a list used in turn.

    Args:
        answers: a list of answers (strings, or exceptions to raise), used in order and then the
            last one again; or one function from the messages to the answer.
        model_id: the name it reports.
        json_retries: extra attempts after a malformed JSON answer, like the real adapters.
    """

    max_concurrency = 1

    def __init__(
        self,
        answers: Sequence[Answer] | Callable[[Sequence[ChatMessage]], str],
        *,
        model_id: str = "scripted",
        json_retries: int = 0,
    ) -> None:
        self.answers = answers
        self.model_id = model_id
        self.json_retries = json_retries
        self.prompts: list[list[ChatMessage]] = []

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> str:
        self.prompts.append(list(messages))
        if callable(self.answers):
            answer: Answer = self.answers(messages)
        else:
            answer = self.answers[min(len(self.prompts) - 1, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        if not isinstance(answer, str):
            raise LLMError(f"bad scripted answer {answer!r}")
        return answer

    def complete_json(self, messages: Sequence[ChatMessage], schema: type[BaseModel], **options: Any) -> Any:
        raw = ""
        for _ in range(self.json_retries + 1):
            raw = self.complete(messages, **options)
            try:
                return schema.model_validate(parse_json_object(raw))
            except ValueError:
                continue
        raise MalformedOutput(f"no valid {schema.__name__}", raw=raw)


TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|> {{ message['content'] }} </s> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TINY_CORPUS = (
    "I write about feature stores and chunking and evaluation.",
    "A chunk is the unit of evidence your model gets to see.",
    "Make rollback boring and the calendar stops mattering.",
    "Write a passage about LoRA on a laptop in your own words.",
    "The answer is a JSON object with pairs of instruction and answer.",
)


def build_tiny_llama(directory: Any, *, chat_template: bool = True, seed: int = 0) -> Any:
    """Save a tiny random Llama (hidden size 32, 2 layers) and a word-level tokenizer under ``directory``.

    The tokenizer is trained on a few sentences with the ``tokenizers`` library; nothing is
    downloaded. With ``chat_template`` the tokenizer carries a minimal chat template.

    Returns:
        ``directory``, loadable with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = ["<unk>", "<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(TINY_CORPUS, trainers.WordLevelTrainer(special_tokens=special))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    if chat_template:
        fast.chat_template = TINY_CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory
