"""Generation with the twin, whatever runs it: the one interface evaluation, self-play, serving and the CLI share.

:func:`load_generator` loads a merged model folder with a runtime, ONNX Runtime GenAI (the
default on the CPU: the folder is exported once, int8, beside itself) or transformers (the
default on GPUs; float32 on the CPU), and returns a :class:`TextGenerator`. Both runtimes render
the same prompt (the shared chat template, :func:`chat.render_prompt`), pick every token by the
same :mod:`~llm_engineering.model.decoding` rules (penalties, temperature, top-p, a seeded random
stream per request) and decode the requests in flight together. An answer never depends on
the batch it was decoded in: rows are seeded per request, and the ONNX runtime keeps one
generator per request. Each answer reports why it ended: ``stop`` (an end-of-turn token or stop
string) or ``length``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from llm_engineering.domain.chat import ensure_chat_template, render_prompt
from llm_engineering.domain.decoding import Decoding
from llm_engineering.model.runtimes.rows import Event, Finished, Ticket
from llm_engineering.model.runtimes.scheduler import Scheduler
from llm_engineering.model.runtimes.torch_runtime import TorchScheduler, eos_ids, load_causal_lm

__all__ = ["RUNTIMES", "Generated", "TextGenerator", "load_causal_lm", "load_generator", "resolve_runtime"]

RUNTIMES = ("onnx", "transformers")


@dataclass(frozen=True)
class Generated:
    """One generated answer.

    Attributes:
        text: the answer, special tokens removed, stripped.
        prompt_tokens: tokens of the rendered prompt.
        completion_tokens: tokens generated (the end-of-turn token included when produced).
        finish_reason: ``stop`` when the model ended its turn or wrote a stop string, ``length`` at
            ``max_new_tokens``.
        token_ids: the generated token ids.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]
    token_ids: tuple[int, ...] = ()


class TextGenerator:
    """A loaded model and the scheduler that decodes it (build one with :func:`load_generator`).

    Attributes:
        runtime: ``onnx`` or ``transformers``.
        folder: the merged model folder it was loaded from.
        tokenizer: the Hugging Face tokenizer (the shared chat template ensured).
        max_positions: the model's context in tokens.
        scheduler: the worker that decodes the requests in flight together.
    """

    def __init__(
        self, *, runtime: str, folder: Path, tokenizer: Any, scheduler: Scheduler, max_positions: int
    ) -> None:
        self.runtime = runtime
        self.folder = folder
        self.tokenizer = tokenizer
        self.scheduler = scheduler
        self.max_positions = max_positions

    def __repr__(self) -> str:
        return f"TextGenerator({self.runtime}, {str(self.folder)!r})"

    def __enter__(self) -> TextGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prompt_ids(self, conversation: Sequence[dict[str, str]]) -> list[int]:
        """The token ids of ``conversation`` rendered with the shared chat template."""
        return self.tokenizer(render_prompt(self.tokenizer, conversation), add_special_tokens=False)[
            "input_ids"
        ]

    def submit(self, prompt_ids: Sequence[int], decoding: Decoding, emit: Callable[[Event], None]) -> Ticket:
        """Queue one request; ``emit`` gets its text pieces, then a :class:`Finished` (or an exception),
        from the decoding thread."""
        return self.scheduler.submit(prompt_ids, decoding=decoding, emit=emit)

    def generate(
        self, conversations: Sequence[Sequence[dict[str, str]]], decoding: Decoding, *, batch_size: int = 8
    ) -> list[Generated]:
        """Answer each conversation (a ``build_messages`` list); the answers come in the input order.

        At most ``batch_size`` conversations are in flight; the next one starts as soon as one ends.

        Raises:
            ValueError: ``batch_size`` is below 1.
            RuntimeError: decoding failed (the first error is re-raised).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        prompts = [self.prompt_ids(c) for c in conversations]
        order = iter(sorted(range(len(prompts)), key=lambda i: len(prompts[i])))  # similar lengths pad little
        events: queue.Queue[tuple[int, Event]] = queue.Queue()
        pieces: list[list[str]] = [[] for _ in prompts]
        results: list[Generated | None] = [None] * len(prompts)
        tickets: dict[int, Ticket] = {}

        def start_next() -> None:
            index = next(order, None)
            if index is not None:
                tickets[index] = self.submit(
                    prompts[index], decoding, lambda event, i=index: events.put((i, event))
                )

        for _ in range(min(batch_size, len(prompts))):
            start_next()
        try:
            with tqdm(
                total=len(prompts), desc="generate", unit="answer", disable=len(prompts) <= batch_size
            ) as bar:
                for _ in range(len(prompts)):
                    while True:
                        index, event = events.get()
                        if isinstance(event, BaseException):
                            raise RuntimeError(f"generation failed: {event}") from event
                        if isinstance(event, Finished):
                            break
                        pieces[index].append(event)
                    results[index] = Generated(
                        text="".join(pieces[index]).strip(),
                        prompt_tokens=event.prompt_tokens,
                        completion_tokens=event.completion_tokens,
                        finish_reason=event.reason,
                        token_ids=event.token_ids,
                    )
                    tickets.pop(index, None)
                    bar.update()
                    start_next()
        finally:
            for ticket in tickets.values():
                ticket.cancel()
        return [r for r in results if r is not None]

    def stream(self, conversation: Sequence[dict[str, str]], decoding: Decoding) -> Iterator[str]:
        """Yield the answer to ``conversation`` in text pieces as they are decoded.

        It ends at an end-of-turn token, at ``max_new_tokens`` or at the first stop string (not
        yielded); closing the iterator early frees the request's row at the next step.
        """
        events: queue.Queue[Event] = queue.Queue()
        ticket = self.submit(self.prompt_ids(conversation), decoding, events.put)
        try:
            while True:
                event = events.get()
                if isinstance(event, BaseException):
                    raise RuntimeError(f"generation failed: {event}") from event
                if isinstance(event, Finished):
                    return
                yield event
        finally:
            ticket.cancel()

    def close(self, *, wait: bool = True) -> None:
        """Stop the decoding thread (answers in flight finish first) and free the model."""
        self.scheduler.close(wait=wait)


def resolve_runtime(runtime: str | None, *, device: str = "cpu") -> str:
    """The runtime to use: ``runtime``, else ``TWIN_RUNTIME``, else onnx on the CPU and transformers on GPUs.

    Raises:
        ValueError: an unknown runtime, or onnx asked on a GPU.
    """
    if runtime is None:
        import os

        from llm_engineering.settings import Settings

        runtime = Settings(_env_file=os.environ.get("LLM_TWIN_ENV_FILE", ".env")).twin_runtime or None
    if runtime is None:
        runtime = "onnx" if device == "cpu" else "transformers"
    runtime = runtime.strip().lower()
    if runtime not in RUNTIMES:
        raise ValueError(f"TWIN_RUNTIME must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime == "onnx" and device != "cpu":
        raise ValueError(f"the ONNX runtime is exported for the CPU; use runtime 'transformers' on {device}")
    return runtime


def load_generator(
    folder: str | Path,
    *,
    runtime: str | None = None,
    device: str = "cpu",
    dtype: Any = None,
    max_batch: int = 16,
) -> TextGenerator:
    """Load the merged model ``folder`` for generation.

    Args:
        folder: a merged Hugging Face model folder (an ONNX export folder works too, for onnx).
        runtime: ``onnx`` or ``transformers``; None: ``TWIN_RUNTIME``, else onnx on the CPU and
            transformers on a GPU.
        device: torch device (transformers only; onnx runs on the CPU).
        dtype: transformers: a torch dtype or its name (default float32, so answers do not depend
            on their batch); onnx: ``int8`` (default), ``int4`` or ``fp32``, the export's precision.
        max_batch: most requests decoded together.

    Raises:
        FileNotFoundError: ``folder`` holds no model.
    """
    folder = Path(folder)
    runtime = resolve_runtime(runtime, device=device)
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder at {folder}")
    if runtime == "transformers":
        model, tokenizer = load_causal_lm(
            folder, device=device, dtype=dtype if dtype is not None else "float32"
        )
        scheduler = TorchScheduler(model, tokenizer, eos_ids=eos_ids(model, tokenizer), max_batch=max_batch)
        positions = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        return TextGenerator(
            runtime=runtime, folder=folder, tokenizer=tokenizer, scheduler=scheduler, max_positions=positions
        )
    return _load_onnx(folder, dtype=dtype, max_batch=max_batch)


def _load_onnx(folder: Path, *, dtype: Any, max_batch: int) -> TextGenerator:
    import json

    from transformers import AutoTokenizer

    from llm_engineering.model.runtimes.onnx_decoder import OnnxScheduler
    from llm_engineering.model.runtimes.onnx_runtime import export_onnx, onnx_precision

    if (folder / "genai_config.json").is_file():
        export = folder  # already an export
    else:
        export = export_onnx(folder, precision=onnx_precision(dtype))
    tokenizer = ensure_chat_template(AutoTokenizer.from_pretrained(str(folder)))
    stops = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = json.loads((export / "genai_config.json").read_text())["model"].get("eos_token_id")
    stops |= set(
        configured if isinstance(configured, list) else [configured] if configured is not None else []
    )
    generation_config = folder / "generation_config.json"
    if generation_config.is_file():
        value = json.loads(generation_config.read_text()).get("eos_token_id")
        stops |= set(value if isinstance(value, list) else [value] if value is not None else [])
    scheduler = OnnxScheduler(export, tokenizer, eos_ids=sorted(stops), max_batch=max_batch)
    return TextGenerator(
        runtime="onnx",
        folder=folder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        max_positions=scheduler.context,
    )


# -- transitional: callers that hold a loaded transformers model ------------------------------


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
    """Answer with an already loaded transformers model (prefer ``load_generator(...).generate``)."""
    generator = _wrap(model, tokenizer)
    try:
        decoding = Decoding.plain(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed
        )
        return generator.generate(conversations, decoding, batch_size=batch_size)
    finally:
        generator.close()


def _wrap(model: Any, tokenizer: Any) -> TextGenerator:
    ensure_chat_template(tokenizer)
    scheduler = TorchScheduler(model, tokenizer, eos_ids=eos_ids(model, tokenizer))
    positions = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    folder = Path(str(getattr(model.config, "_name_or_path", "") or "."))
    return TextGenerator(
        runtime="transformers",
        folder=folder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        max_positions=positions,
    )
