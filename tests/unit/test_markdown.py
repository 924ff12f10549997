"""The one Markdown block parser: block kinds and spans, sentences that keep their closing marks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_engineering.application.preprocessing.markdown import (
    Block,
    BlockKind,
    group_blocks,
    line_spans,
    parse_blocks,
    sentence_spans,
)

DOCUMENT = """# Title

Intro line wrapped
over two lines:
  * first item
    continued
  * second item
> a quote
lazy continuation

| 1999 | 0.5 |
|---|---|
Year | Loss
---|---
2000 | 0.25

```python
x = 1

y = 2
```

    indented code

        with a blank line
* * *
1999
socket.io
## Next"""


def _kinds(text: str) -> list[tuple[str, str]]:
    return [(block.kind.value, text[block.start : block.end]) for block in parse_blocks(text)]


def test_blocks_have_kinds_and_are_spans_of_the_text():
    assert _kinds(DOCUMENT) == [
        ("heading", "# Title"),
        ("blank", ""),
        ("paragraph", "Intro line wrapped\nover two lines:"),
        ("list_item", "  * first item\n    continued"),
        ("list_item", "  * second item"),
        ("quote", "> a quote\nlazy continuation"),
        ("blank", ""),
        ("table", "| 1999 | 0.5 |\n|---|---|\nYear | Loss\n---|---\n2000 | 0.25"),
        ("blank", ""),
        ("fenced_code", "```python\nx = 1\n\ny = 2\n```"),
        ("blank", ""),
        ("indented_code", "    indented code\n\n        with a blank line"),
        ("rule", "* * *"),
        ("paragraph", "1999\nsocket.io"),
        ("heading", "## Next"),
    ]


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Year | Loss\n---|---\n1999 | 0.5", ["table"]),
        ("Text before.\n| a | b |\n| 1 | 2 |", ["paragraph", "table"]),
        ("a | b but no delimiter row", ["paragraph"]),
        ("```\nnever closed\n\nstill code", ["fenced_code"]),
        ("~~~~\n```\n~~~~\nafter", ["fenced_code", "paragraph"]),
        ("  * Top item\n\n    * Nested item", ["list_item", "blank", "list_item"]),
        ("Paragraph\n    indented continuation", ["paragraph"]),
        ("#2. Not a heading\nbut text", ["paragraph"]),
        ("#\n", ["heading", "blank"]),
        ("### A short heading\nFollowed by text.", ["heading", "paragraph"]),
        ("### A heading wrapped by\nhtml2text at the margin", ["heading"]),
        ("### " + "long " * 14 + "heading\nEnds Here", ["heading"]),
        ("\n\n\n", ["blank"]),
        ("", []),
    ],
)
def test_edge_cases_of_block_kinds(text, kinds):
    assert [block.kind.value for block in parse_blocks(text)] == kinds


def _assert_tiles(text: str, blocks: list[Block]) -> None:
    """Blocks are in order, do not overlap, and leave only line breaks between them."""
    position = 0
    for block in blocks:
        assert text[position : block.start] in ("", "\n"), (position, block)
        assert block.start <= block.end
        position = block.end
    assert text[position:] in ("", "\n")


CASES = [
    DOCUMENT,
    "\n\nLeading blank lines\n\n\n\ntrailing\n\n",
    "```\n```\n```",
    "| a |\n\n| b |\n",
    "  \t \nA\n\t\tB\n",
]


@pytest.mark.parametrize("text", CASES)
def test_blocks_tile_the_text(text):
    _assert_tiles(text, parse_blocks(text))


def test_blocks_tile_every_real_page(shared_corpus: Path):
    records = json.loads((shared_corpus / "ArticleDocument.json").read_text(encoding="utf-8"))
    for record in records:
        text = record["content"]["Content"].replace("\r\n", "\n").replace("\r", "\n")
        _assert_tiles(text, parse_blocks(text))


def test_groups_are_runs_between_blank_lines_and_code_stands_alone():
    groups = group_blocks(parse_blocks(DOCUMENT))
    assert [[b.kind.value for b in group] for group in groups] == [
        ["heading"],
        ["paragraph", "list_item", "list_item", "quote"],
        ["table"],
        ["fenced_code"],
        ["indented_code"],
        ["rule", "paragraph", "heading"],
    ]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ('He said "Stop." Then it ended.', ['He said "Stop."', "Then it ended."]),
        ("It ended (as planned.) Next one.", ["It ended (as planned.)", "Next one."]),
        ("Really?” She left. [See note.] Done!", ["Really?”", "She left.", "[See note.]", "Done!"]),
        (
            "_Let’s get started!_ Here we go…  Spaced out.",
            ["_Let’s get started!_", "Here we go…", "Spaced out."],
        ),
        (
            "Version 0.5 is out. e.g. lower case stays. 3 items.",
            ["Version 0.5 is out. e.g. lower case stays.", "3 items."],
        ),
        ("No end mark", ["No end mark"]),
        ("  padded.   ", ["padded."]),
        ("", []),
    ],
)
def test_sentences_keep_their_closing_quotes_and_brackets(text, sentences):
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == sentences
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert not text[end:start].strip()  # only white space between sentences


def test_sentences_and_lines_of_a_span_are_positions_in_the_whole_text():
    text = "Skip this. " + "First one. Second one.\nThird line  \n\n"
    start = len("Skip this. ")
    assert [text[s:e] for s, e in sentence_spans(text, start, start + 22)] == ["First one.", "Second one."]
    assert [text[s:e] for s, e in line_spans(text, start)] == ["First one. Second one.", "Third line"]


def test_kinds_are_plain_strings():
    assert BlockKind.TABLE == "table" and Block(BlockKind.FENCED_CODE, 0, 3).is_code
