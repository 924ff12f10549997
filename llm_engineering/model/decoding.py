"""The logits rules of the one decoding, for every place the twin writes: evaluation, self-play,
serving and the CLI.

The settings are :class:`~llm_engineering.domain.decoding.Decoding`. The rules live here, in
numpy, so every runtime (ONNX Runtime GenAI, the transformers batching scheduler, batched
evaluation) applies the same penalties in the same order: repetition penalty (CTRL-style, on
every token of prompt and answer), frequency and presence penalties (OpenAI's definition, on the
answer's tokens), a ban on repeating any ``no_repeat_ngram_size``-gram of the answer, then
temperature, top-p and the draw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from llm_engineering.domain.decoding import Decoding


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
