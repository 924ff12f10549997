"""One request being decoded: its prompt, decoding rules, random stream, tokens and sent text.

A :class:`DecodeRow` is runtime-neutral: a runtime hands it the logits of the row's last
position (:meth:`DecodeRow.choose`), then the chosen token (:meth:`DecodeRow.advance`), which
emits the text that is safe to send and, at the end, one :class:`Finished`. A stop string is
never sent: text that could be its start is held back until it cannot be.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.decoding import next_token

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """The last event of a request: why it ended and the tokens it cost."""

    reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    token_ids: tuple[int, ...] = ()


Event = str | Finished | BaseException
"""What a request's callback receives: text pieces, then one :class:`Finished` (or an exception)."""


@dataclass
class DecodeRow:
    """The state of one request (see the module doc).

    Attributes:
        prompt_ids: the rendered prompt's token ids.
        decoding: how tokens are picked and when the answer stops.
        emit: called (from the runtime's worker thread) with each :data:`Event`.
        decode: token ids -> text (the tokenizer's decode without special tokens).
        eos_ids: tokens that end the turn.
    """

    prompt_ids: list[int]
    decoding: Decoding
    emit: Callable[[Event], None]
    decode: Callable[[list[int]], str]
    eos_ids: frozenset[int]
    tokens: list[int] = field(default_factory=list)
    sent: int = 0
    done: bool = False
    cancelled: threading.Event = field(default_factory=threading.Event)
    rng: np.random.Generator = field(init=False)
    state: Any = None  # the runtime's own per-row state (an ONNX generator)

    def __post_init__(self) -> None:
        # Seeded per request, never per batch: an answer does not depend on its neighbours.
        self.rng = np.random.default_rng(self.decoding.seed)

    def choose(self, logits: np.ndarray) -> int:
        """The next token from the last position's logits (one row), by the shared decoding rules."""
        return next_token(
            np.asarray(logits, dtype=np.float32).reshape(-1),
            prompt=self.prompt_ids,
            answer=self.tokens,
            decoding=self.decoding,
            rng=self.rng,
        )

    def send(self, event: Event) -> None:
        """Hand ``event`` to the caller; a callback that raises cancels this row, never the worker."""
        try:
            self.emit(event)
        except Exception:  # noqa: BLE001 - a broken consumer must not stop the others' decoding
            logger.exception("a request's callback failed; the request is dropped")
            self.cancelled.set()
            self.done = True

    def advance(self, token: int) -> bool:
        """Record ``token``, emit what text is safe to send; True when the row is finished."""
        if self.done or self.cancelled.is_set():
            self.done = True
            return True
        self.tokens.append(token)
        ended = token in self.eos_ids
        kept = self.tokens[:-1] if ended else self.tokens
        text = self.decode(kept).lstrip()
        reason: Literal["stop", "length"] | None = "stop" if ended else None
        stops = self.decoding.stop
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        elif reason is None and len(self.tokens) >= self.decoding.max_new_tokens:
            reason = "length"
        if reason is None:
            hold = max((len(s) for s in stops), default=1) - 1
            safe = len(text) - hold
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                safe = min(safe, len(text) - 1)
            if safe > self.sent:
                self.send(text[self.sent : safe])
                self.sent = safe
            return self.done
        if len(text) > self.sent:
            self.send(text[self.sent :])
        self.send(
            Finished(
                reason=reason,
                prompt_tokens=len(self.prompt_ids),
                completion_tokens=len(self.tokens),
                token_ids=tuple(self.tokens),
            )
        )
        self.done = True
        return True

    def fail(self, error: BaseException) -> None:
        """End the row with ``error`` (sent once; a callback that raises is logged)."""
        if not self.done:
            self.done = True
            self.send(error)


class Ticket:
    """A submitted request; :meth:`cancel` makes it leave the batch at the next step."""

    def __init__(self, row: DecodeRow) -> None:
        self._row = row

    def cancel(self) -> None:
        self._row.cancelled.set()

    @property
    def done(self) -> bool:
        return self._row.done


def make_row(
    prompt_ids: Sequence[int],
    decoding: Decoding,
    emit: Callable[[Event], None],
    *,
    tokenizer: Any,
    eos_ids: Sequence[int],
) -> DecodeRow:
    """A :class:`DecodeRow` whose text is ``tokenizer``'s decode without special tokens."""
    return DecodeRow(
        prompt_ids=list(prompt_ids),
        decoding=decoding,
        emit=emit,
        decode=lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
        eos_ids=frozenset(eos_ids),
    )
