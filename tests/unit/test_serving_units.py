"""Pure pieces of the service: the chat request model's refusals and decoding overrides, the registry's
pick order and name check, publishing overrides, the admission bound, the Markdown renderer, and
cleaning up after dead services."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from llm_engineering.serving.rag import remove_stale_snapshots
from llm_engineering.serving.schemas import ChatCompletionRequest

USER = [{"role": "user", "content": "hi"}]


def test_a_chat_request_reads_text_parts_and_lists_stops():
    request = ChatCompletionRequest.model_validate(
        {
            "model": "llm-twin",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
            ],
            "stop": "END",
            "max_completion_tokens": 5,
            "user": "someone",  # harmless OpenAI fields are accepted and ignored
        }
    )
    assert request.messages[0].text == "ab" and request.stop == ["END"] and request.answer_tokens == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"n": 3}, "n must be 1"),
        ({"tools": []}, "'tools' is not supported"),
        ({"presence_penalty": 2.5}, "(?s)presence_penalty.*less than or equal to 2"),
        ({"repetition_penalty": 0.5}, "greater than or equal to 1"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
        ({"temperature": "0.5"}, "valid number"),
        ({"top_p": 0}, "greater than 0"),
    ],
)
def test_unsupported_or_mistyped_parameters_are_refused_by_name(extra, message):
    with pytest.raises(ValidationError, match=message):
        ChatCompletionRequest.model_validate({"model": "m", "messages": USER, **extra})


def test_snapshots_of_dead_services_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    (tmp_path / f"snapshots-{dead_pid}-aaaa" / "embedded_articles").mkdir(parents=True)
    alive = tmp_path / f"snapshots-{1}-bbbb"  # pid 1 is always alive
    alive.mkdir()
    remove_stale_snapshots(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [alive.name]


def test_a_request_overrides_only_the_decoding_fields_it_names():
    from llm_engineering.domain.decoding import Decoding
    from llm_engineering.serving.backends import EchoBackend
    from llm_engineering.serving.deps import Services, ServingOptions
    from llm_engineering.settings import Settings

    default = Decoding(max_new_tokens=100, temperature=0.7, repetition_penalty=1.2, no_repeat_ngram_size=4)
    services = Services(
        Settings(_env_file=None),
        backend=EchoBackend(),
        rag=None,
        runs=None,
        options=ServingOptions(decoding=default, max_tokens_limit=200),
    )
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": USER, "frequency_penalty": 0.5, "presence_penalty": -0.25, "stop": "END"}
    )
    decoding = services.decoding(request.decoding_overrides())
    assert decoding == default.model_copy(
        update={"frequency_penalty": 0.5, "presence_penalty": -0.25, "stop": ("END",)}
    )
    assert services.decoding() == default  # /rag, /poe and the page: the server's defaults
    with pytest.raises(Exception, match="max_tokens must be at most 200"):
        services.decoding({"max_new_tokens": 201})


def test_registry_reads_only_listed_names_and_picks_in_one_order_within_one_second(tmp_path):
    from llm_engineering.model.registry import ModelRegistry, ModelVersion, UnknownModelVersion
    from llm_engineering.model.selection import choose_model
    from llm_engineering.serving.twin_backend import LocalTwinBackend

    registry = ModelRegistry(tmp_path / "models")
    same_second = "2026-12-07T05:00:00+00:00"
    for name, stage in [("base", "base"), ("zz-sft", "sft"), ("aa-dpo", "dpo")]:
        folder = tmp_path / name
        folder.mkdir()
        registry.register(
            ModelVersion(name=name, stage=stage, folder=folder, base_model="b", created_at=same_second)
        )
    # newest DPO beats SFT and base though "zz-sft" sorts after it by name
    assert registry.default_version().name == "aa-dpo"
    assert choose_model(None, registry=registry)[1].name == "aa-dpo"
    backend = LocalTwinBackend(registry=registry)
    assert backend._target("llm-twin")[0] == "aa-dpo"  # serving picks the same one
    registry.promote("zz-sft", reason="test")
    assert registry.default_version().name == "zz-sft" and backend._target("llm-twin")[0] == "zz-sft"
    (tmp_path / "models" / "secret.json").write_text("{}")
    for name in ("../production", "../secret", str(tmp_path / "models" / "versions" / "base"), "base.json"):
        with pytest.raises(UnknownModelVersion, match="no model version"):
            registry.get(name)


def test_overrides_that_publish_are_found_nested_or_dotted():
    from llm_engineering.serving.control import publishing_paths

    assert publishing_paths({"output": {"push_to_hub": True}}) == ["output.push_to_hub"]
    assert publishing_paths({"output.hub_model_id": "me/twin", "sft": {"max_steps": 2}}) == [
        "output.hub_model_id"
    ]
    assert publishing_paths({"links": ["push_to_hub"], "sft": {"max_steps": 2}}) == []


def test_the_admission_bound_answers_429_with_retry_after_and_frees_slots():
    from llm_engineering.serving.deps import Admission
    from llm_engineering.serving.errors import APIError

    admission = Admission(2, retry_after=3)
    first, second = admission.enter(), admission.enter()
    with pytest.raises(APIError) as refused:
        admission.enter()
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "3"}
    first.release()
    first.release()  # idempotent
    assert admission.active == 1
    admission.enter()
    second.release()
    assert admission.active == 1 and admission.refused == 1


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="x" onclick="alert(1)">x</a>',
        "<iframe src=//evil></iframe>",
    ],
)
def test_markdown_is_rendered_and_no_html_of_the_model_survives(attack):
    from llm_engineering.serving.routers.page import render_markdown

    html = render_markdown(f"## Plan\n\n- one\n- **two**\n\n```python\nprint(1)\n```\n\n{attack}")
    assert "<h2>Plan</h2>" in html and "<li><strong>two</strong></li>" in html
    assert '<code class="language-python">' in html
    tags = _tags(html)
    assert {"h2", "ul", "li", "strong", "pre", "code"} <= {tag for tag, _ in tags}
    assert not {tag for tag, _ in tags} & {"script", "img", "iframe"}
    for _, attributes in tags:
        assert not any(name.startswith("on") for name, _ in attributes), attributes
        assert not any((value or "").startswith("javascript:") for _, value in attributes), attributes


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def _demo_documents():
    from pathlib import Path

    from llm_engineering.domain.cleaned_documents import CleanedDocument

    root = Path(__file__).resolve().parents[2] / "data" / "demo"
    for path in sorted(root.rglob("*.md")):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8")
        article = path.parent.name == "articles"
        title = text.split("\n", 1)[0].lstrip("# ").strip() if article else None
        yield CleanedDocument(
            id=path.stem,
            category="articles" if article else "posts",
            title=title,
            content=text,
            platform="local",
            author_id=path.parent.parent.name,
            author_full_name=path.parent.parent.name,
            link=path.as_uri(),
            source_hash="h",
        )


def test_every_suggested_question_names_a_topic_word_of_its_document(tmp_path):
    """Shown alone, 'What was the fix?' means nothing: each suggestion carries a word of its document's
    title or opening heading (compared on the first five letters, so chunk/chunking match)."""
    import re

    from llm_engineering.application.questions import STOP_WORDS
    from llm_engineering.application.rag.suggestions import build_suggestions, load_suggestions

    documents = list(_demo_documents())
    path = build_suggestions(documents, directory=tmp_path)
    stored = load_suggestions(path, n=1000)
    assert len(stored) >= 20
    checked = 0
    for document in documents:
        heading = document.title or document.content.split("\n", 1)[0].lstrip("# ")
        topic = {w.lower()[:5] for w in re.findall(r"[A-Za-z][\w-]+", heading) if len(w) >= 3}
        topic -= {w[:5] for w in STOP_WORDS}
        from llm_engineering.application.rag.suggestions import questions_for_document

        for question in questions_for_document(document):
            words = {w.lower()[:5] for w in re.findall(r"[A-Za-z][\w-]+", question)}
            assert words & topic, (question, heading)
            checked += 1
    assert checked >= len(stored)
    for vague in ("What was the fix?", "What were old policies?"):
        assert vague not in stored
