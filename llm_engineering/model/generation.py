"""Generation with a local causal LM: the one loop that evaluation, serving and the CLI share.

Conversations are rendered with the twin's chat template (:func:`chat.render_prompt`), so every
caller asks the model in the format it was trained on. Batches are left-padded (decoder-only
models continue from the last position), decoding is greedy unless a temperature is given, and
each answer reports why it ended: ``stop`` (an end-of-turn token or stop string) or ``length``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from llm_engineering.model.chat import ensure_chat_template, render_prompt


@dataclass(frozen=True)
class Generated:
    """One generated answer.

    Attributes:
        text: the answer, special tokens removed.
        prompt_tokens: tokens of the rendered prompt.
        completion_tokens: tokens generated (the end-of-turn token included when produced).
        finish_reason: ``stop`` when the model ended its turn, ``length`` at ``max_new_tokens``.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


def load_causal_lm(folder: str | Path, *, device: str = "cpu", dtype: Any = None) -> tuple[Any, Any]:
    """Load a Hugging Face causal LM folder for inference.

    Args:
        folder: a merged model folder (or hub id, when a hub is reachable).
        device: torch device to place the model on.
        dtype: torch dtype or its name (``"bfloat16"``); None keeps the dtype the folder was saved
            in (bf16 for the converted SmolLM2, ~2x faster than fp32 on this CPU).

    Returns:
        ``(model, tokenizer)``: the model in eval mode, the tokenizer left-padded with the chat
        template and a pad token ensured.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = ensure_chat_template(AutoTokenizer.from_pretrained(str(folder)))
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype if dtype is not None else "auto")
    model.to(device)
    model.eval()
    return model, tokenizer


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def _sampling_kwargs(temperature: float, top_p: float) -> dict[str, Any]:
    if temperature <= 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": None}


def generate_answers(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[Sequence[dict[str, str]]],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
) -> list[Generated]:
    """Answer each conversation (a ``build_messages`` list), in order.

    Conversations are sorted by prompt length before batching, so a batch pads little, and
    the answers are returned in the input order.
    """
    import torch

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    ensure_chat_template(tokenizer)
    tokenizer.padding_side = "left"
    prompts = [render_prompt(tokenizer, conversation) for conversation in conversations]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    eos_ids = _eos_ids(model, tokenizer)
    results: list[Generated | None] = [None] * len(prompts)
    torch.manual_seed(seed)
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    for batch in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
        encoded = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(model.device)
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                eos_token_id=eos_ids,
                pad_token_id=tokenizer.pad_token_id,
                **_sampling_kwargs(temperature, top_p),
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :].tolist()
        for index, tokens in zip(batch, new_tokens, strict=True):
            ended = next((n for n, token in enumerate(tokens) if token in eos_ids), None)
            kept = tokens if ended is None else tokens[: ended + 1]
            results[index] = Generated(
                text=tokenizer.decode(kept, skip_special_tokens=True).strip(),
                prompt_tokens=lengths[index],
                completion_tokens=len(kept),
                finish_reason="length" if ended is None else "stop",
            )
    return [r for r in results if r is not None]


def stream_answer(
    model: Any,
    tokenizer: Any,
    conversation: Sequence[dict[str, str]],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_p: float = 1.0,
    stop: Sequence[str] = (),
    seed: int | None = None,
) -> Iterator[str]:
    """Yield the answer to ``conversation`` in text pieces as they are decoded.

    Generation runs in a background thread; it ends at an end-of-turn token, at
    ``max_new_tokens``, at the first ``stop`` string (not yielded), or when the caller stops
    iterating (closing the generator stops the thread at its next token).
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    ensure_chat_template(tokenizer)
    prompt = render_prompt(tokenizer, conversation)
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    cancelled = threading.Event()

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return cancelled.is_set()

    if seed is not None:
        torch.manual_seed(seed)
    failure: list[BaseException] = []

    def _generate() -> None:
        try:
            with torch.inference_mode():
                model.generate(
                    **encoded,
                    max_new_tokens=max_new_tokens,
                    eos_token_id=_eos_ids(model, tokenizer),
                    pad_token_id=tokenizer.pad_token_id,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    **_sampling_kwargs(temperature, top_p),
                )
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(error)
            streamer.end()

    worker = threading.Thread(target=_generate, name="stream_answer", daemon=True)
    worker.start()
    # Hold back as many characters as the longest stop string minus one: a stop string may be
    # split across two decoded pieces.
    hold = max((len(s) for s in stop), default=1) - 1
    pending = ""
    started = False
    try:
        for piece in streamer:
            pending += piece
            if not started:  # the template's "assistant\n" ends the prompt; drop leading blanks
                pending = pending.lstrip()
                started = bool(pending)
            cut = min((pending.find(s) for s in stop if s in pending), default=-1)
            if cut >= 0:
                if pending[:cut]:
                    yield pending[:cut]
                pending = ""
                break
            if len(pending) > hold:
                emit, pending = pending[: len(pending) - hold], pending[len(pending) - hold :]
                yield emit
        if pending:
            yield pending
    finally:
        cancelled.set()
        worker.join()
    if failure:
        raise failure[0]
