"""The chat page at / in headless Chromium: it streams the twin's answer with its sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from llm_engineering.serving.app import create_app
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
