"""The chat page at / in headless Chromium: it streams the twin's answer with its sources, renders it as
Markdown, and runs no script the model writes (a screenshot goes to docs/chat-page.png)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.domain.decoding import Decoding
from llm_engineering.serving.app import create_app
from llm_engineering.serving.backends import EchoBackend, Finished
from tests.serving_fixtures import API_KEY, AUTHOR, DemoState, LiveServer, demo_state  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def page_server(demo_state: DemoState) -> Iterator[LiveServer]:  # noqa: F811
    with LiveServer(create_app(demo_state.settings())) as live:
        yield live


@pytest.fixture
def browser(chrome_factory):
    driver = chrome_factory()
    yield driver
    driver.quit()


def _ask(browser, question: str):
    box = browser.find_element(By.ID, "question")
    box.send_keys(question, Keys.ENTER)
    turn = WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".turn.assistant:last-child[data-done]")
    )
    return turn


def test_the_page_streams_the_answer_with_its_sources(browser, page_server):
    browser.get(f"{page_server.url}/")
    assert browser.title == "LLM Twin"
    key = browser.find_element(By.ID, "key")
    key.send_keys(API_KEY, Keys.TAB)  # the change event stores it and reloads models and suggestions
    chips = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions button")
    )
    assert len(chips) == 4
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    assert "echo" in options
    question = "How does Maya Lindqvist pick chunk sizes?"
    turn = _ask(browser, question)
    assert turn.get_attribute("data-done") == "true"
    assert turn.find_element(By.CLASS_NAME, "answer").text == question  # echo streams the question back
    sources = turn.find_elements(By.CSS_SELECTOR, ".sources li")
    assert sources and all(AUTHOR in s.text for s in sources)
    assert all(
        a.get_attribute("href").startswith("file://")
        for a in turn.find_elements(By.CSS_SELECTOR, ".sources a")
    )
    chips = browser.find_elements(By.CSS_SELECTOR, "#suggestions button")
    chips[0].click()  # a suggested question is asked at once
    WebDriverWait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn.assistant[data-done]")) == 2
    )


def test_the_page_shows_the_error_without_a_key(browser, page_server):
    browser.get(f"{page_server.url}/")
    browser.execute_script("localStorage.clear()")
    browser.refresh()
    turn = _ask(browser, "anything")
    assert turn.get_attribute("data-done") == "error"
    assert "API key" in turn.find_element(By.CLASS_NAME, "error").text


SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "chat-page.png"
ANSWER = """## How I pick chunk sizes

I start from the **question**, not the embedding model:

1. Read twenty real questions.
2. Measure how long the passage that answers each one is.
3. Size chunks so one chunk holds one answer.

```python
def chunk(text: str, size: int = 400) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
```

> A chunk is a product decision, not a tuning knob.
"""
ATTACK = """Here is what the page must not run:

<script>window.__pwned = "script"</script>
<img src="x" onerror="window.__pwned = 'onerror'">
[a link](javascript:window.__pwned='link')
"""


class ScriptedBackend(EchoBackend):
    """Writes a fixed Markdown answer (or the attack when the question asks for it), piece by piece."""

    kind = "scripted"

    async def stream(
        self, model: str, messages: list[dict[str, str]], params: Decoding
    ) -> AsyncIterator[str | Finished]:
        text = ATTACK if "attack" in messages[-1]["content"] else ANSWER
        pieces = re.split(r"(?<=\s)", text)
        for piece in pieces:
            yield piece
            await asyncio.sleep(0.01)
        yield Finished("stop", 10, len(pieces))


@pytest.fixture(scope="module")
def markdown_server(demo_state: DemoState) -> Iterator[LiveServer]:  # noqa: F811
    with LiveServer(create_app(demo_state.settings(), backend=ScriptedBackend())) as live:
        yield live


def test_the_page_renders_markdown_and_runs_no_script_the_model_writes(browser, markdown_server):
    browser.set_window_size(1000, 1300)
    browser.get(f"{markdown_server.url}/")
    key = browser.find_element(By.ID, "key")
    key.clear()
    key.send_keys(API_KEY, Keys.TAB)
    answer = _ask(browser, "How do you pick chunk sizes for retrieval?").find_element(By.CLASS_NAME, "answer")
    assert answer.find_element(By.TAG_NAME, "h2").text == "How I pick chunk sizes"
    assert len(answer.find_elements(By.CSS_SELECTOR, "ol > li")) == 3
    assert answer.find_element(By.TAG_NAME, "strong").text == "question"
    assert "def chunk(text" in answer.find_element(By.CSS_SELECTOR, "pre > code").text
    assert answer.find_element(By.TAG_NAME, "blockquote")
    turn = _ask(browser, "Show me the attack")
    shown = turn.find_element(By.CLASS_NAME, "answer")
    assert '<script>window.__pwned = "script"</script>' in shown.text  # shown as text, not run
    assert "onerror" in shown.text
    assert not shown.find_elements(By.CSS_SELECTOR, "script, img, iframe")
    assert all(
        not (a.get_attribute("href") or "").startswith("javascript:")
        for a in shown.find_elements(By.TAG_NAME, "a")
    )
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.execute_script("return window.__pwned === undefined")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
