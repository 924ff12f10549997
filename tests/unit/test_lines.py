"""The line and block machinery shared by cleaning and boilerplate detection."""

from __future__ import annotations

from llm_engineering.application.preprocessing.lines import (
    line_key,
    logical_lines,
    normalise_characters,
    text_units,
)
from llm_engineering.application.preprocessing.markdown import BlockKind


def test_characters_are_normalised():
    raw = "caf\u0065\u0301\u00a0au\u200b lait\r\nnext\rline\u2009end"
    assert normalise_characters(raw) == "café au lait\nnext\nline end"


def test_wrapped_paragraph_lines_are_one_logical_line_and_quotes_one_per_marker():
    assert logical_lines(BlockKind.PARAGRAPH, ["a pre-", "trained model", "works"]) == [
        "a pre-trained model works"
    ]
    assert logical_lines(BlockKind.QUOTE, ["> one", "> two"]) == ["> one", "> two"]
    assert logical_lines(BlockKind.TABLE, ["| a |", "|---|"]) == ["| a |", "|---|"]


def test_units_keep_code_verbatim_and_fence_indented_code():
    units = text_units("Some **bold**   text.\n\n    x = 1\n    y = 2 __\n\nAfter.")
    assert [unit.kind for unit in units] == [
        BlockKind.PARAGRAPH,
        BlockKind.INDENTED_CODE,
        BlockKind.PARAGRAPH,
    ]
    assert units[0].lines == ["Some bold text."]
    assert units[1].lines == ["```", "x = 1", "y = 2", "```"] and units[1].verbatim
    assert line_key("## **Share** this") == "share this"
