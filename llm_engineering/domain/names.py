"""How author names are matched: one normalisation for features, datasets and retrieval."""

from __future__ import annotations


def name_key(full_name: str) -> str:
    """The form two author names are compared in: whitespace folded to single spaces, case folded.

    ``"ada  Lovelace"`` and ``"Ada Lovelace"`` have the same key, so a config, a query or a
    stored payload finds the same author however the name was typed.
    """
    return " ".join(full_name.split()).casefold()
