"""Adapter that generates with a Hugging Face causal language model from a local folder (transformers).

Used for the ``model`` strategy of preference data (the rejected answer comes from a given
model, for example the SFT twin itself) and wherever no endpoint is configured. The model
and tokenizer are loaded on the first call, not at construction or import.

The prompt is the tokenizer's chat template when it has one (the same template SFT, DPO
and serving use); otherwise a plain ``role: content`` transcript ending in ``assistant:``.
One model instance generates one prompt at a time (a lock), so ``max_concurrency`` is 1.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.domain.llm import ChatMessage, LLMError
from llm_engineering.infrastructure.llm.base import BaseLLMClient, Generation


def plain_transcript(messages: Sequence[ChatMessage]) -> str:
    """The prompt of a model without a chat template: one ``role: content`` block per message."""
    return "".join(f"{m['role']}: {m['content']}\n\n" for m in messages) + "assistant:"


class LocalTransformersClient(BaseLLMClient):
    """A causal LM loaded from a local folder with ``AutoModelForCausalLM``.

    Args:
        model_path: folder with the model's weights, config and tokenizer.
        device: torch device, e.g. ``cpu`` or ``cuda``.
        seed: seed of sampling, so a rerun generates the same answers.
        **kwargs: :class:`BaseLLMClient` options (``default_max_tokens``, ``temperature``,
            ``json_retries``, ``token_budget``).

    Raises:
        FileNotFoundError: ``model_path`` is not a folder.
    """

    def __init__(self, model_path: str | Path, *, device: str = "cpu", seed: int = 0, **kwargs: Any) -> None:
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"no model folder at {path}")
        kwargs.setdefault("default_max_tokens", 256)
        super().__init__(model_id=str(path), max_concurrency=1, **kwargs)
        self.model_path = path
        self.device = device
        self.seed = seed
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalTransformersClient({str(self.model_path)!r}, device={self.device!r})"

    def _load(self) -> tuple[Any, Any]:
        """``(model, tokenizer)``, loaded once (the order of ``load_causal_lm``)."""
        with self._load_lock:
            if self._model is None:
                self._model, self._tokenizer = self._read_model()
            return self._model, self._tokenizer

    def _read_model(self) -> tuple[Any, Any]:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            model = AutoModelForCausalLM.from_pretrained(self.model_path).to(self.device)
        except (OSError, ValueError) as exc:
            raise LLMError(f"cannot load a causal LM from {self.model_path}: {exc}") from exc
        model.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return model, tokenizer

    def close(self) -> None:
        """Drop the loaded model and tokenizer (they are loaded again on the next call)."""
        with self._load_lock:
            self._model = self._tokenizer = None

    def prompt_text(self, messages: Sequence[ChatMessage]) -> str:
        """The text the model sees for ``messages``: its chat template, or a plain transcript."""
        _, tokenizer = self._load()
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return plain_transcript(messages)

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        _, tokenizer = self._load()
        return len(tokenizer(self.prompt_text(messages), add_special_tokens=False)["input_ids"])

    def _generate(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float, json_answer: bool
    ) -> Generation:
        import torch

        with self._lock:
            model, tokenizer = self._load()
            # A chat template writes its own special tokens; a plain transcript gets the model's.
            templated = bool(getattr(tokenizer, "chat_template", None))
            inputs = tokenizer(
                self.prompt_text(messages), return_tensors="pt", add_special_tokens=not templated
            ).to(self.device)
            sampling: dict[str, Any] = (
                {"do_sample": True, "temperature": temperature, "top_p": 0.95}
                if temperature > 0
                else {"do_sample": False}
            )
            torch.manual_seed(self.seed)
            with torch.inference_mode():
                output = model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    **sampling,
                )
        prompt_length = inputs["input_ids"].shape[1]
        new_tokens = output[0, prompt_length:]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
        return Generation(text=text, prompt_tokens=prompt_length, completion_tokens=int(new_tokens.shape[0]))
