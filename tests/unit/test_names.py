"""Author names match with case and spacing folded, the same way in every pipeline."""

from __future__ import annotations

import pytest

from llm_engineering.domain.names import name_key


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("ada lovelace", "Ada Lovelace"), ("  Ada\tLOVELACE ", "Ada Lovelace"), ("Madonna", "madonna")],
)
def test_the_same_name_typed_differently_has_one_key(typed, stored):
    assert name_key(typed) == name_key(stored)


@pytest.mark.parametrize(("one", "other"), [("Ada Lovelace", "Ada Lovelac"), ("Ada Lovelace", "AdaLovelace")])
def test_different_names_keep_different_keys(one, other):
    assert name_key(one) != name_key(other)
