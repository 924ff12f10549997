"""Evaluation test data: two synthetic authors with distinct styles, and tiny twins trained on one.

The authors write about the same topics (so a classifier must go by style, not subject):

- **Ada** writes long, measured sentences joined by semicolons and commas, with connectives
  ("moreover", "consequently"), British spellings and a few parentheses;
- **Bo** writes short, punchy sentences, exclamation marks, "you" and "honestly", dashes.

:func:`train_tiny_twin` fine-tunes the tiny ChatML Llama of :mod:`tests.tiny_model`
on an author's answers in the twin's chat format for a few dozen steps: enough for the
evaluation's metrics to tell a "trained" twin from an untrained "base".
"""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

ADA = "Ada Byron"
BO = "Bo Brash"

TOPICS = [
    "feature stores",
    "vector search",
    "chunking",
    "fine-tuning",
    "evaluation",
    "data pipelines",
    "model serving",
    "monitoring",
    "prompt design",
    "retrieval",
    "batch jobs",
    "embeddings",
]
NOUNS = ["pipeline", "model", "dataset", "index", "service", "query", "schema", "cache", "team", "metric"]

ADA_OPENERS = ["Moreover", "Consequently", "In practice", "Nevertheless", "Admittedly", "On reflection"]
ADA_CLAUSES = [
    "the {n} ought to be organised around the questions it must answer",
    "one should recognise that {t} rarely behaves as the documentation suggests",
    "the behaviour of the {n} is, in my experience, more subtle than it first appears",
    "a careful practitioner will optimise the {n} only after measuring it",
    "the cost of {t} is seldom where one expects it to be",
    "it is worth acknowledging that the {n} (and everything around it) will change",
    "the colour of the results depends upon how the {n} was prepared",
]
BO_LINES = [
    "Honestly, {t} is easier than you think!",
    "Ship the {n}. Measure it. Fix it.",
    "You don't need a fancy {n} - you need a working one!",
    "Stop tuning the {n}. Seriously.",
    "Here's the trick: keep the {n} tiny!",
    "You will break the {n}. That's fine!",
    "Want faster {t}? Cache the {n}!",
    "Big {n}? Nope - small and boring wins.",
]


def ada_text(rng: random.Random, sentences: int = 4) -> str:
    """A paragraph in Ada's style."""
    out = []
    for _ in range(sentences):
        t, n = rng.choice(TOPICS), rng.choice(NOUNS)
        first = rng.choice(ADA_CLAUSES).format(t=t, n=n)
        second = rng.choice(ADA_CLAUSES).format(t=rng.choice(TOPICS), n=rng.choice(NOUNS))
        out.append(f"{rng.choice(ADA_OPENERS)}, {first}; {second}.")
    return " ".join(out)


def bo_text(rng: random.Random, sentences: int = 7) -> str:
    """A paragraph in Bo's style."""
    return " ".join(
        rng.choice(BO_LINES).format(t=rng.choice(TOPICS), n=rng.choice(NOUNS)) for _ in range(sentences)
    )


def author_texts(author: str, count: int, *, seed: int) -> list[str]:
    """``count`` paragraphs by ``"ada"`` or ``"bo"``."""
    rng = random.Random(f"{author}:{seed}")
    write = ada_text if author == "ada" else bo_text
    return [write(rng) for _ in range(count)]


def instructions(count: int, *, seed: int) -> list[str]:
    """Questions on the shared topics."""
    rng = random.Random(f"q:{seed}")
    forms = [
        "What do you think about {t}?",
        "How should a team approach {t}?",
        "Write about {t} and the {n}.",
    ]
    return [rng.choice(forms).format(t=rng.choice(TOPICS), n=rng.choice(NOUNS)) for _ in range(count)]


def train_tiny_twin(
    folder: Path,
    *,
    instructions: Sequence[str],
    answers: Sequence[str],
    author: str,
    tokenizer_texts: Sequence[str],
    steps: int = 60,
    seed: int = 0,
) -> Path:
    """Build the tiny ChatML Llama in ``folder`` and, when ``steps`` > 0, train it on the chats.

    The loss covers the whole rendered conversation (system, instruction, answer): a crude SFT,
    enough to move the model toward the author's words. Returns the folder.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_engineering.domain.chat import build_messages, render_prompt
    from tests.tiny_model import build_tiny_causal_lm

    build_tiny_causal_lm(folder, texts=tokenizer_texts, seed=seed)
    if steps <= 0:
        return folder
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    texts = [
        render_prompt(
            tokenizer,
            [*build_messages(q, author=author), {"role": "assistant", "content": a}],
            add_generation_prompt=False,
        )
        for q, a in zip(instructions, answers, strict=True)
    ]
    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    rng = random.Random(seed)
    for _ in range(steps):
        batch = tokenizer(rng.sample(texts, min(4, len(texts))), return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    return folder


@functools.cache
def tiny_twins() -> dict[str, Path]:
    """An untrained tiny model ("base") and the same model after 20 steps on Ada's answers ("twin").

    Built once per test process (about half a minute) in a temporary folder; both share one
    tokenizer, so their perplexities are comparable.
    """
    root = Path(tempfile.mkdtemp(prefix="llm-twin-eval-models-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    train = author_texts("ada", 60, seed=0)
    vocabulary = train + author_texts("bo", 20, seed=0)
    common = {"instructions": instructions(60, seed=0), "answers": train, "author": ADA}
    return {
        "base": train_tiny_twin(root / "base", tokenizer_texts=vocabulary, steps=0, **common),
        "twin": train_tiny_twin(root / "twin", tokenizer_texts=vocabulary, steps=20, **common),
    }


def cleaned_document(doc_id: str, content: str, *, author: str, title: str | None = None):
    """A cleaned article of ``author`` (the feature store's record of one document)."""
    from llm_engineering.domain.cleaned_documents import CleanedDocument

    return CleanedDocument(
        id=doc_id,
        category="articles",
        title=title,
        content=content,
        platform="local",
        author_id=author.lower().replace(" ", "-"),
        author_full_name=author,
        link=f"file:///{doc_id}.md",
        source_hash=str(len(content)),
    )


def fill_feature_store(store, documents, *, embedder) -> None:
    """Write cleaned documents and one embedded chunk per paragraph, as the feature pipeline stores them."""
    import uuid

    from llm_engineering.domain.cleaned_documents import cleaned_collection, embedded_collection
    from llm_engineering.domain.vector_store import Point

    indexed = ("author_id", "author_full_name", "document_id")
    store.ensure_collection(cleaned_collection("articles"), vector_size=None, indexed_fields=indexed)
    store.ensure_collection(
        embedded_collection("articles"), vector_size=embedder.dimension, indexed_fields=indexed
    )
    for document in documents:
        point_id = str(uuid.uuid5(uuid.NAMESPACE_URL, document.id))
        payload = {**document.to_payload(), "document_id": document.id}
        store.upsert(cleaned_collection("articles"), [Point(id=point_id, payload=payload)])
        paragraphs = [p for p in document.content.split("\n\n") if p.strip()]
        vectors = embedder.encode(paragraphs, batch_size=32)
        chunks = [
            Point(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document.id}#{i}")),
                payload={
                    "document_id": document.id,
                    "index": i,
                    "category": "articles",
                    "title": document.title,
                    "content": paragraph,
                    "author_full_name": document.author_full_name,
                    "author_id": document.author_id,
                    "link": document.link,
                    "platform": document.platform,
                },
                vector=vector.tolist(),
            )
            for i, (paragraph, vector) in enumerate(zip(paragraphs, vectors, strict=True))
        ]
        store.upsert(embedded_collection("articles"), chunks)
