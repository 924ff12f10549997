"""Every path that docs/ARCHITECTURE.md names exists, and the README's layout block names the same layers."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def named_paths(text: str) -> list[str]:
    """The code spans of ``text`` that are paths: a slash or a file suffix, no spaces."""
    spans = re.findall(r"`([^`\s]+)`", text)
    return [span for span in spans if "/" in span or re.search(r"\.(py|md|yaml|toml)$", span)]


def test_every_path_in_the_architecture_page_exists() -> None:
    paths = named_paths(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(paths) > 30  # the page names the main pieces
    missing = [path for path in paths if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []


def test_the_readme_layout_names_every_layer_of_the_library() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("Code layout", 1)[1].split("```", 2)[1]
    layers = sorted(
        p.name for p in (ROOT / "llm_engineering").iterdir() if p.is_dir() and p.name != "__pycache__"
    )
    assert [layer for layer in layers if f"  {layer}/" not in layout] == []
    assert "settings.py" in layout and "docs/ARCHITECTURE.md" in readme


def test_a_missing_path_is_found() -> None:
    assert named_paths("the loop (`llm_engineering/model/training/nowhere.py`), `Decoding`, `a b`") == [
        "llm_engineering/model/training/nowhere.py"
    ]
