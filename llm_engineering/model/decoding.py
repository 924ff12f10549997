"""One decoding for every place the twin writes: evaluation, self-play, serving and the CLI.

:class:`Decoding` is the one generation settings object. Evaluation's config section, the
training's self-play, ``/v1/chat/completions``, ``/rag``, ``/poe``, ``twin-generate`` and the
chat page all build one (a request overrides only what it names), so the answers that are
scored are decoded the way users get them.

The logits rules live here too, in numpy, so every runtime (ONNX Runtime GenAI, the
transformers batching scheduler, batched evaluation) applies the same penalties in the same
order: repetition penalty (CTRL-style, on every token of prompt and answer), frequency and
presence penalties (OpenAI's definition, on the answer's tokens), a ban on repeating any
``no_repeat_ngram_size``-gram of the answer, then temperature, top-p and the draw.

The defaults are chosen on the dev split by ``bench/decoding.py`` (its table is in the README).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

import numpy as np
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


def banned_ngram_tokens(answer: Sequence[int], n: int) -> set[int]:
    """Tokens that would repeat an ``n``-gram already in ``answer`` if drawn next."""
    if n <= 0 or len(answer) < n:
        return set()
    prefix = tuple(answer[len(answer) - n + 1 :]) if n > 1 else ()
    banned: set[int] = set()
    for start in range(len(answer) - n + 1):
        if tuple(answer[start : start + n - 1]) == prefix:
            banned.add(answer[start + n - 1])
    return banned


def penalise(
    logits: np.ndarray, *, prompt: Sequence[int], answer: Sequence[int], decoding: Decoding
) -> np.ndarray:
    """``logits`` (one row, float32) with the decoding's penalties applied; a new array."""
    out = np.array(logits, dtype=np.float32, copy=True)
    if not decoding.penalised:
        return out
    if decoding.repetition_penalty != 1.0:
        seen = np.fromiter(set(prompt) | set(answer), dtype=np.int64)
        if seen.size:
            values = out[seen]
            out[seen] = np.where(
                values > 0, values / decoding.repetition_penalty, values * decoding.repetition_penalty
            )
    if answer and (decoding.frequency_penalty or decoding.presence_penalty):
        counts = Counter(answer)
        ids = np.fromiter(counts.keys(), dtype=np.int64)
        freq = np.fromiter(counts.values(), dtype=np.float32)
        out[ids] -= decoding.frequency_penalty * freq + decoding.presence_penalty
    banned = banned_ngram_tokens(answer, decoding.no_repeat_ngram_size)
    if banned:
        out[list(banned)] = -np.inf
    return out


def draw(logits: np.ndarray, *, decoding: Decoding, rng: np.random.Generator) -> int:
    """The next token from penalised ``logits``: argmax when greedy, else temperature + top-p."""
    if decoding.greedy:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / decoding.temperature
    scaled -= scaled.max()
    probs = np.exp(scaled)
    probs /= probs.sum()
    if decoding.top_p < 1.0:
        order = np.argsort(-probs)
        sorted_probs = probs[order]
        keep = np.cumsum(sorted_probs) - sorted_probs < decoding.top_p
        kept = order[keep]
        probs_kept = probs[kept] / probs[kept].sum()
        return int(rng.choice(kept, p=probs_kept))
    return int(rng.choice(probs.size, p=probs))


def next_token(
    logits: np.ndarray,
    *,
    prompt: Sequence[int],
    answer: Sequence[int],
    decoding: Decoding,
    rng: np.random.Generator,
) -> int:
    """Penalise, then draw: the one rule by which every runtime picks a token."""
    return draw(penalise(logits, prompt=prompt, answer=answer, decoding=decoding), decoding=decoding, rng=rng)
