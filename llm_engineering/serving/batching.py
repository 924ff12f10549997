"""A batching scheduler for a local causal LM: concurrent requests decode together, token by token.

One worker thread owns the model. Requests wait in a queue; at every decoding step the
worker admits the waiting ones (up to ``max_batch`` in flight): it prefills their prompts
together (left-padded), then **merges their KV cache into the running batch** by left-padding
the shorter cache along the time axis, so a request that arrives mid-answer joins at the next
step instead of waiting for the batch to finish (continuous batching at step granularity).
Each step feeds the batch's last tokens (``[batch, 1]``) with the attention mask and each
row's own position ids; finished rows (end-of-turn token, ``max_tokens``, a stop string, or
a client that went away) leave the batch, and padding columns no row needs are cut off.

Sampling is per row: greedy at temperature 0, else temperature and top-p with a generator
seeded by the request's ``seed``. Text is decoded incrementally per row and handed to the
request's callback as pieces; a stop string is never sent (text that could be its start is
held back until it cannot be).

Only models whose cache is a plain :class:`transformers.DynamicCache` (every layer a full
attention layer: Llama, SmolLM2, Qwen2, Mistral without sliding window) can be merged this
way; :func:`supports_batching` says so, and other models are served one request at a time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
class _Row:
    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    stop: Sequence[str]
    emit: Callable[[Event], None]
    generator: Any = None
    tokens: list[int] = field(default_factory=list)
    sent: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)


class Ticket:
    """A submitted request; :meth:`cancel` makes it leave the batch at the next step."""

    def __init__(self, row: _Row) -> None:
        self._row = row

    def cancel(self) -> None:
        self._row.cancelled.set()


def supports_batching(model: Any) -> bool:
    """Whether the model's KV cache is a plain dynamic cache of full-attention layers (mergeable)."""
    config = model.config
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(t == "full_attention" for t in layer_types)


class BatchScheduler:
    """The worker thread and its queue (see the module doc).

    Args:
        model: a causal LM in eval mode.
        tokenizer: its tokenizer.
        eos_ids: token ids that end a turn.
        max_batch: most requests decoded together.
    """

    def __init__(self, model: Any, tokenizer: Any, *, eos_ids: Sequence[int], max_batch: int = 16) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.eos_ids = set(eos_ids)
        self.max_batch = max_batch if supports_batching(model) else 1
        self.steps = 0
        self.batch_sizes: list[int] = []
        self._pending: queue.Queue[_Row | None] = queue.Queue()
        self._rows: list[_Row] = []
        self._cache: Any = None
        self._mask: Any = None
        self._next: Any = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-scheduler", daemon=True)
        self._thread.start()

    # -- public --------------------------------------------------------------------------

    def submit(
        self,
        prompt_ids: Sequence[int],
        *,
        max_new_tokens: int,
        emit: Callable[[Event], None],
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> Ticket:
        """Queue a request; ``emit`` is called from the worker thread with each event."""
        import torch

        generator = None
        if temperature > 0:
            generator = torch.Generator()
            generator.manual_seed(seed if seed is not None else int(time.time_ns() % 2**31))
        row = _Row(
            prompt_ids=list(prompt_ids),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=tuple(stop),
            emit=emit,
            generator=generator,
        )
        if self._stopping.is_set():
            raise RuntimeError("the scheduler is stopped")
        self._pending.put(row)
        return Ticket(row)

    def close(self, *, wait: bool = True) -> None:
        """Stop after the requests in flight have finished (new ones are refused)."""
        self._stopping.set()
        self._pending.put(None)
        if wait:
            self._thread.join(timeout=600)

    @property
    def in_flight(self) -> int:
        return len(self._rows) + self._pending.qsize()

    # -- worker --------------------------------------------------------------------------

    def _run(self) -> None:
        import torch

        torch.set_grad_enabled(False)
        while True:
            if not self._rows:
                row = self._pending.get()
                if row is None:
                    if self._pending.empty():
                        return
                    continue
                admitted = [row]
            else:
                admitted = []
            while len(self._rows) + len(admitted) < self.max_batch:
                try:
                    row = self._pending.get_nowait()
                except queue.Empty:
                    break
                if row is not None:
                    admitted.append(row)
            try:
                with torch.inference_mode():
                    if admitted:
                        self._admit(admitted)
                    else:
                        self._step()
            except BaseException as error:  # noqa: BLE001 - every request in flight gets the error
                logger.exception("generation failed")
                failed = {id(row): row for row in [*self._rows, *admitted]}
                for row in failed.values():
                    row.emit(error)
                self._rows, self._cache, self._mask, self._next = [], None, None, None

    def _admit(self, rows: list[_Row]) -> None:
        import torch
        from transformers import DynamicCache

        width = max(len(r.prompt_ids) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in rows])
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in rows])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        out = self.model(
            input_ids=ids.to(self.model.device),
            attention_mask=mask.to(self.model.device),
            position_ids=positions.to(self.model.device),
            past_key_values=cache,
            use_cache=True,
        )
        tokens = self._sample(out.logits[:, -1, :], rows)
        running = len(self._rows)
        if running:
            cache, mask, tokens = self._merge(cache, mask, tokens)
        self._rows.extend(rows)
        self._cache, self._mask, self._next = cache, mask, tokens
        self._after_step(start=running)  # the running rows' tokens were handed out last step

    def _merge(self, cache: Any, mask: Any, tokens: Any) -> tuple[Any, Any, Any]:
        import torch
        import torch.nn.functional as F

        old_len, new_len = self._mask.shape[1], mask.shape[1]
        width = max(old_len, new_len)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            for name in ("keys", "values"):
                old = getattr(old_layer, name)
                new = getattr(new_layer, name)
                old = F.pad(old, (0, 0, width - old_len, 0))
                new = F.pad(new, (0, 0, width - new_len, 0))
                setattr(old_layer, name, torch.cat([old, new], dim=0))
        merged_mask = torch.cat([F.pad(self._mask, (width - old_len, 0)), F.pad(mask, (width - new_len, 0))])
        return self._cache, merged_mask, torch.cat([self._next, tokens])

    def _step(self) -> None:
        import torch

        mask = torch.cat([self._mask, torch.ones((len(self._rows), 1), dtype=self._mask.dtype)], dim=1)
        positions = (mask.sum(-1, keepdim=True) - 1).clamp(min=0)
        out = self.model(
            input_ids=self._next.unsqueeze(-1).to(self.model.device),
            attention_mask=mask.to(self.model.device),
            position_ids=positions.to(self.model.device),
            past_key_values=self._cache,
            use_cache=True,
        )
        self._mask = mask
        self._next = self._sample(out.logits[:, -1, :], self._rows)
        self._after_step()

    def _sample(self, logits: Any, rows: Sequence[_Row]) -> Any:
        import torch

        logits = logits.float()
        chosen = logits.argmax(-1)
        for i, row in enumerate(rows):
            if row.temperature <= 0:
                continue
            probs = torch.softmax(logits[i] / row.temperature, dim=-1)
            if row.top_p < 1.0:
                sorted_probs, order = probs.sort(descending=True)
                keep = sorted_probs.cumsum(-1) - sorted_probs < row.top_p
                probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
            chosen[i] = torch.multinomial(probs, 1, generator=row.generator)[0]
        return chosen.cpu()

    def _after_step(self, *, start: int = 0) -> None:
        """Hand the rows from ``start`` on their new token's text; drop finished rows from the batch."""
        import torch

        self.steps += 1
        self.batch_sizes.append(len(self._rows))
        keep = list(range(start))
        for i, (row, token) in enumerate(zip(self._rows, self._next.tolist(), strict=True)):
            if i >= start and not self._advance(row, token):
                keep.append(i)
        if len(keep) == len(self._rows):
            return
        if not keep:
            self._rows, self._cache, self._mask, self._next = [], None, None, None
            return
        index = torch.tensor(keep)
        self._rows = [self._rows[i] for i in keep]
        self._next = self._next[index]
        mask = self._mask[index]
        first = int(mask.any(0).float().argmax())  # leading columns that no row uses any more
        self._mask = mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index.to(layer.keys.device), :, first:, :]
            layer.values = layer.values[index.to(layer.values.device), :, first:, :]

    def _advance(self, row: _Row, token: int) -> bool:
        """Record ``token`` for ``row``, emit what text is safe to send; True when the row is finished."""
        if row.cancelled.is_set():
            return True
        row.tokens.append(token)
        ended = token in self.eos_ids
        kept = row.tokens[:-1] if ended else row.tokens
        text = self.tokenizer.decode(kept, skip_special_tokens=True).lstrip()
        reason: Literal["stop", "length"] | None = "stop" if ended else None
        cut = min((text.find(s) for s in row.stop if s in text), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        elif reason is None and len(row.tokens) >= row.max_new_tokens:
            reason = "length"
        if reason is None:
            hold = max((len(s) for s in row.stop), default=1) - 1
            safe = len(text) - hold
            if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
                safe = min(safe, len(text) - 1)
            if safe > row.sent:
                row.emit(text[row.sent : safe])
                row.sent = safe
            return False
        if len(text) > row.sent:
            row.emit(text[row.sent :])
        row.emit(
            Finished(
                reason=reason,
                prompt_tokens=len(row.prompt_ids),
                completion_tokens=len(row.tokens),
                token_ids=tuple(row.tokens),
            )
        )
        return True
