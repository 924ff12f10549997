"""The one decoding settings object: how the twin picks its next token, and when it stops.

Evaluation's config section, the training's self-play, ``/v1/chat/completions``, ``/rag``,
``/poe``, ``twin-generate`` and the chat page all build one :class:`Decoding` (a request overrides
only what it names), so the answers that are scored are decoded the way users get them. The
logits rules that apply it live in :mod:`llm_engineering.model.decoding`.

The defaults are chosen on the dev split by ``bench/decoding.py`` (its table is in the README).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Decoding(BaseModel):
    """How the twin picks its next token, and when it stops.

    Attributes:
        max_new_tokens: most tokens per answer.
        temperature: 0 is greedy; above 0 samples.
        top_p: nucleus share (sampling only).
        repetition_penalty: > 1 divides positive logits (multiplies negative ones) of every token
            already in the prompt or answer; 1 is off.
        no_repeat_ngram_size: > 0 forbids any n-gram of the answer to occur twice; 0 is off.
        frequency_penalty: subtracted from a token's logit once per time it occurs in the answer.
        presence_penalty: subtracted from a token's logit once if it occurs in the answer.
        seed: sampling seed (None: a fresh one).
        stop: strings that end the answer (not included in it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: Annotated[int, Field(ge=1, le=8192)] = 256
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    top_p: Annotated[float, Field(gt=0, le=1)] = 1.0
    repetition_penalty: Annotated[float, Field(ge=1, le=3)] = 1.1
    no_repeat_ngram_size: Annotated[int, Field(ge=0, le=16)] = 4
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] = 0.0
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] = 0.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def plain(cls, **given: object) -> Decoding:
        """Greedy with every rule off (argmax of the raw logits), plus what ``given`` names:
        the reference the served defaults are measured against."""
        off = {
            "temperature": 0.0,
            "top_p": 1.0,
            "repetition_penalty": 1.0,
            "no_repeat_ngram_size": 0,
            "frequency_penalty": 0.0,
            "presence_penalty": 0.0,
        }
        return cls(**{**off, **given})

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @property
    def penalised(self) -> bool:
        """Whether any rule changes the logits before the draw."""
        return (
            self.repetition_penalty != 1.0
            or self.no_repeat_ngram_size > 0
            or self.frequency_penalty != 0.0
            or self.presence_penalty != 0.0
        )
