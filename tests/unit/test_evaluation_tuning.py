"""Choosing the decoding defaults: the least looping points first, then attribution, style and endings."""

from __future__ import annotations

import pytest

from llm_engineering.model.evaluation.tuning import GRID, GridRow, choose_decoding, grid_decodings


def row(model: str, label: str, *, loop: float, attribution: float, style: float, ended: float) -> GridRow:
    scores = {
        "loop_rate": loop,
        "attribution_rate": attribution,
        "style_distance": style,
        "ended_rate": ended,
    }
    return GridRow(model=model, label=label, scores=scores, samples=10)


def test_a_looping_point_is_never_chosen_however_well_it_scores_otherwise():
    rows = [
        # greedy loops on the twin: best attribution and style, but out.
        row("base", "greedy", loop=0.0, attribution=0.9, style=0.1, ended=1.0),
        row("twin", "greedy", loop=0.5, attribution=0.9, style=0.1, ended=0.2),
        row("base", "rep", loop=0.0, attribution=0.5, style=0.3, ended=0.8),
        row("twin", "rep", loop=0.0, attribution=0.6, style=0.3, ended=0.9),
        row("base", "ngram", loop=0.1, attribution=0.4, style=0.35, ended=0.7),
        row("twin", "ngram", loop=0.1, attribution=0.5, style=0.35, ended=0.8),
    ]
    chosen, ranks = choose_decoding(rows)
    assert "greedy" not in ranks  # 0.5 is more than one answer (0.1) above the lowest loop rate
    assert chosen == "rep" and ranks["rep"] < ranks["ngram"]


def test_ties_go_to_the_point_listed_first():
    rows = [
        row("base", "simple", loop=0.0, attribution=0.5, style=0.3, ended=1.0),
        row("base", "fancy", loop=0.0, attribution=0.5, style=0.3, ended=1.0),
    ]
    assert choose_decoding(rows)[0] == "simple"
    with pytest.raises(ValueError, match="no grid rows"):
        choose_decoding([])


def test_the_grid_is_valid_decodings_and_starts_with_plain_greedy_whatever_the_defaults():
    decodings = grid_decodings(max_new_tokens=64)
    label, greedy = decodings[0]
    assert len(decodings) == len(GRID) and label == "greedy"
    assert greedy.greedy and not greedy.penalised and greedy.top_p == 1.0
    # a point names only what it changes: the rest is off, not Decoding's (grid-chosen) defaults
    rep = dict(decodings)["greedy rep1.1"]
    assert rep.greedy and rep.repetition_penalty == 1.1 and rep.no_repeat_ngram_size == 0
    assert any(d.temperature > 0 for _, d in decodings) and any(d.no_repeat_ngram_size for _, d in decodings)
    assert any(d.frequency_penalty and d.presence_penalty for _, d in decodings)
