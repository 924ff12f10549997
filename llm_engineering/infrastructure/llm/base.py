"""What every LLM adapter shares: JSON answers with retries, token budgets and usage counts.

An adapter implements :meth:`BaseLLMClient._generate` (one call to its model) and gets
:meth:`~BaseLLMClient.complete` and :meth:`~BaseLLMClient.complete_json` from here:

- **Token budgets**: ``max_tokens`` bounds each call's answer; an optional overall budget
  bounds the whole run. Before a call, its worst case (the prompt's estimated tokens plus
  ``max_tokens``) is *reserved*; after it, the reservation is replaced by the tokens the
  model reports. Concurrent calls therefore never overshoot the budget, and a call that
  would is refused with :class:`BudgetExhausted` before it is sent.
- **JSON answers**: the answer is parsed leniently (a Markdown code fence or prose around
  the object is tolerated), validated by the pydantic schema, and on failure the model is
  asked again with the error, up to ``json_retries`` more times.
"""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from llm_engineering.domain.llm import (
    BudgetExhausted,
    ChatMessage,
    MalformedOutput,
    T,
)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Generation:
    """One answer of a model and the tokens it cost (None where the model did not say)."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class TokenBudget:
    """A thread-safe overall token budget with reservations.

    Args:
        limit: tokens (prompt + answer) the run may spend; None: unlimited, only counted.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.used = 0
        self._reserved = 0
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> int:
        """Set aside ``tokens`` for a call about to be made.

        Raises:
            BudgetExhausted: the call could exceed the budget.
        """
        with self._lock:
            if self.limit is not None and self.used + self._reserved + tokens > self.limit:
                raise BudgetExhausted(
                    f"token budget of {self.limit} spent ({self.used} used, {self._reserved} in flight); "
                    "raise llm.token_budget in the config to generate more"
                )
            self._reserved += tokens
            return tokens

    def settle(self, reserved: int, used: int) -> None:
        """Replace a reservation by what the call really used."""
        with self._lock:
            self._reserved -= reserved
            self.used += used

    @property
    def remaining(self) -> int | None:
        """Tokens left (None when unlimited)."""
        with self._lock:
            return None if self.limit is None else max(0, self.limit - self.used - self._reserved)


def estimate_tokens(text: str) -> int:
    """A rough token count (4 characters a token, the usual figure for English BPE vocabularies)."""
    return len(text) // 4 + 1


def parse_json_object(text: str) -> object:
    """The JSON value in a model's answer, tolerating a code fence or prose around one object.

    Raises:
        ValueError: no JSON value could be read.
    """
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first : last + 1])
    error: Exception | None = None
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = exc
    raise ValueError(f"no JSON object in the answer ({error or 'empty answer'})")


class BaseLLMClient(ABC):
    """Shared behaviour of the adapters; subclasses implement :meth:`_generate`.

    Args:
        model_id: the model's name, recorded in sample sources and messages.
        default_max_tokens: answer tokens per call when the caller gives none.
        temperature: sampling temperature when the caller gives none (0: greedy).
        json_retries: extra attempts after a malformed JSON answer.
        token_budget: overall budget of the run (prompt + answer tokens); None: unlimited.
        max_concurrency: calls that may run at once.
    """

    def __init__(
        self,
        *,
        model_id: str,
        default_max_tokens: int = 1024,
        temperature: float = 0.7,
        json_retries: int = 2,
        token_budget: int | None = None,
        max_concurrency: int = 1,
    ) -> None:
        self.model_id = model_id
        self.default_max_tokens = default_max_tokens
        self.temperature = temperature
        self.json_retries = json_retries
        self.budget = TokenBudget(token_budget)
        self.max_concurrency = max_concurrency
        self.calls = 0
        self._calls_lock = threading.Lock()

    def close(self) -> None:  # noqa: B027 - optional hook: adapters holding nothing need not override it
        """Release what the client holds (connections, a loaded model); it can be used again after."""

    def __enter__(self) -> BaseLLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _generate(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float, json_answer: bool
    ) -> Generation:
        """One call to the model; ``json_answer`` says a JSON object is expected (for servers' JSON modes)."""

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Estimated prompt tokens of ``messages`` (adapters with a tokenizer count exactly)."""
        return sum(estimate_tokens(m["content"]) + 4 for m in messages)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> str:
        """The model's answer to ``messages``, within the per-call and overall token budgets.

        Args:
            messages: the chat so far.
            max_tokens: most answer tokens (default: the adapter's ``default_max_tokens``).
            temperature: sampling temperature (default: the adapter's).

        Raises:
            BudgetExhausted: the call could exceed the overall budget; it is not sent.
            LLMTimeout: no answer within the timeout.
            LLMError: any other failure.
        """
        return self._complete(messages, max_tokens=max_tokens, temperature=temperature, json_answer=False)

    def _complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None,
        temperature: float | None,
        json_answer: bool,
    ) -> str:
        max_tokens = max_tokens or self.default_max_tokens
        temperature = self.temperature if temperature is None else temperature
        prompt_tokens = self._prompt_tokens(messages)
        reserved = self.budget.reserve(prompt_tokens + max_tokens)
        used = 0
        try:
            generation = self._generate(
                messages, max_tokens=max_tokens, temperature=temperature, json_answer=json_answer
            )
            used = (generation.prompt_tokens or prompt_tokens) + (
                generation.completion_tokens
                if generation.completion_tokens is not None
                else estimate_tokens(generation.text)
            )
        finally:
            # A failed call may still have cost tokens; count its prompt.
            self.budget.settle(reserved, used or prompt_tokens)
            with self._calls_lock:
                self.calls += 1
        return generation.text

    def complete_json(
        self,
        messages: Sequence[ChatMessage],
        schema: type[T],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> T:
        """The answer as JSON validated by ``schema``; a malformed one is sent back with the error.

        Args:
            messages: the chat so far; it should ask for JSON.
            schema: the pydantic model the JSON must satisfy.
            max_tokens: most answer tokens per attempt.
            temperature: sampling temperature.

        Raises:
            MalformedOutput: still invalid after ``json_retries`` more attempts.
            BudgetExhausted, LLMTimeout, LLMError: as :meth:`complete`.
        """
        chat = list(messages)
        raw, problem = "", ""
        for _attempt in range(self.json_retries + 1):
            raw = self._complete(chat, max_tokens=max_tokens, temperature=temperature, json_answer=True)
            try:
                return schema.model_validate(parse_json_object(raw))
            except (ValueError, ValidationError) as exc:
                problem = _one_line(exc)
            chat = [
                *messages,
                {"role": "assistant", "content": raw},
                {
                    "role": "user",
                    "content": f"That answer is not valid: {problem}. Answer again with only the JSON "
                    f"object, matching this JSON schema: {json.dumps(schema.model_json_schema())}",
                },
            ]
        raise MalformedOutput(
            f"{self.model_id}: no valid {schema.__name__} JSON after {self.json_retries + 1} attempts: {problem}",
            raw=raw,
        )


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()
        )[:500]
    return str(exc)[:500]
