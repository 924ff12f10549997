"""The shared decoding rules: each penalty changes the logits the way its definition says, and the draw."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.decoding import banned_ngram_tokens, draw, next_token, penalise

LOGITS = np.array([2.0, -1.0, 0.5, 3.0, 0.0], dtype=np.float32)


def test_plain_is_greedy_and_unpenalised_and_leaves_logits_alone() -> None:
    decoding = Decoding.plain()
    assert decoding.greedy and not decoding.penalised
    out = penalise(LOGITS, prompt=[0, 1], answer=[3], decoding=decoding)
    assert np.array_equal(out, LOGITS) and out is not LOGITS


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens() -> None:
    out = penalise(LOGITS, prompt=[1], answer=[0], decoding=Decoding.plain(repetition_penalty=2.0))
    assert out.tolist() == [1.0, -2.0, 0.5, 3.0, 0.0]  # tokens 0 (answer) and 1 (prompt) only


def test_frequency_and_presence_penalties_count_the_answer_only() -> None:
    decoding = Decoding.plain(frequency_penalty=0.5, presence_penalty=1.0)
    out = penalise(LOGITS, prompt=[2, 2, 2], answer=[3, 3, 0], decoding=decoding)
    assert out.tolist() == pytest.approx([2.0 - 0.5 - 1.0, -1.0, 0.5, 3.0 - 1.0 - 1.0, 0.0])


def test_no_repeat_ngram_bans_the_token_that_would_repeat_an_ngram() -> None:
    assert banned_ngram_tokens([1, 2, 3, 1, 2], 3) == {3}
    assert banned_ngram_tokens([1, 2, 3, 1], 3) == set()
    assert banned_ngram_tokens([4, 4], 1) == {4}
    out = penalise(LOGITS, prompt=[], answer=[3, 0, 3], decoding=Decoding.plain(no_repeat_ngram_size=2))
    assert out[0] == -np.inf and np.isfinite(np.delete(out, 0)).all()


def test_a_penalty_changes_the_greedy_choice() -> None:
    rng = np.random.default_rng(0)
    assert next_token(LOGITS, prompt=[], answer=[3], decoding=Decoding.plain(), rng=rng) == 3
    assert (
        next_token(LOGITS, prompt=[], answer=[3], decoding=Decoding.plain(repetition_penalty=2.0), rng=rng)
        == 0
    )
    assert (
        next_token(LOGITS, prompt=[], answer=[3], decoding=Decoding.plain(no_repeat_ngram_size=1), rng=rng)
        == 0
    )


def test_top_p_draws_only_from_the_nucleus_and_a_seed_repeats_the_draws() -> None:
    decoding = Decoding(temperature=1.0, top_p=0.7, seed=1)
    draws = [draw(LOGITS, decoding=decoding, rng=np.random.default_rng(s)) for s in range(200)]
    assert set(draws) == {0, 3}  # p(3)=0.63, p(0)=0.23: the smallest set reaching 0.7
    first = [
        draw(LOGITS, decoding=decoding, rng=rng) for rng in [np.random.default_rng(5)] for _ in range(20)
    ]
    again = [
        draw(LOGITS, decoding=decoding, rng=rng) for rng in [np.random.default_rng(5)] for _ in range(20)
    ]
    assert first == again
    hot = [draw(LOGITS, decoding=Decoding(temperature=2.0), rng=np.random.default_rng(s)) for s in range(300)]
    assert set(hot) == {0, 1, 2, 3, 4}


def test_bad_settings_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="repetition_penalty"):
        Decoding(repetition_penalty=0.5)
    with pytest.raises(ValidationError, match="top_k"):
        Decoding(top_k=5)
