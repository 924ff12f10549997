"""The transformers runtime: a causal LM in PyTorch, decoded by a continuous-batching scheduler.

At every step the worker prefills the newly admitted prompts together (left-padded), then
**merges their KV cache into the running batch** by left-padding the shorter cache along the
time axis, so a request that arrives mid-answer joins at the next step. Each step feeds the
batch's last tokens (``[batch, 1]``) with the attention mask and each row's own position ids;
finished rows leave the batch, and padding columns no row needs are cut off. Every token is
picked by :meth:`DecodeRow.choose` (the shared numpy decoding rules) from float32 logits, so in
float32 an answer does not depend on the batch it was decoded in.

Only models whose cache is a plain :class:`transformers.DynamicCache` (every layer a full
attention layer: Llama, SmolLM2, Qwen2, Mistral without sliding window) can be merged this
way; :func:`supports_batching` says so, and other models decode one request at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_engineering.domain.chat import ensure_chat_template
from llm_engineering.model.runtimes.rows import DecodeRow
from llm_engineering.model.runtimes.scheduler import Scheduler

logger = logging.getLogger(__name__)


def load_causal_lm(folder: str | Path, *, device: str = "cpu", dtype: Any = None) -> tuple[Any, Any]:
    """Load a Hugging Face causal LM folder for inference.

    Args:
        folder: a merged model folder (or hub id, when a hub is reachable).
        device: torch device to place the model on.
        dtype: torch dtype or its name (``"bfloat16"``); None keeps the dtype the folder was saved in.

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


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """The tokens that end a turn: the generation config's eos ids and the tokenizer's."""
    configured = model.generation_config.eos_token_id
    ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def supports_batching(model: Any) -> bool:
    """Whether the model's KV cache is a plain dynamic cache of full-attention layers (mergeable)."""
    config = model.config
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(t == "full_attention" for t in layer_types)


class TorchScheduler(Scheduler):
    """Continuous batching for a transformers causal LM (see the module doc).

    Args:
        model: a causal LM in eval mode.
        tokenizer: its tokenizer.
        eos_ids: token ids that end a turn.
        max_batch: most requests decoded together.
    """

    def __init__(self, model: Any, tokenizer: Any, *, eos_ids: Sequence[int], max_batch: int = 16) -> None:
        super().__init__(
            tokenizer,
            eos_ids=eos_ids,
            max_batch=max_batch if supports_batching(model) else 1,
            name="torch-decoder",
        )
        self.model = model
        self._cache: Any = None
        self._mask: Any = None
        self.start()

    def _reset(self) -> None:
        self._rows, self._cache, self._mask = [], None, None

    def _release(self) -> None:
        self._reset()
        self.model = None

    def _forward(self, **inputs: Any) -> Any:
        import torch

        device = self.model.device
        with torch.inference_mode():
            return self.model(
                **{k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}, use_cache=True
            )

    def _choose(self, logits: Any, rows: Sequence[DecodeRow]) -> list[int]:
        values = logits.float().cpu().numpy()
        return [row.choose(values[i]) for i, row in enumerate(rows)]

    def _admit(self, rows: list[DecodeRow]) -> None:
        import torch
        from transformers import DynamicCache

        width = max(len(r.prompt_ids) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(r.prompt_ids)) + r.prompt_ids for r in rows])
        mask = torch.tensor([[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in rows])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache()
        out = self._forward(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, logits_to_keep=1
        )
        tokens = self._choose(out.logits[:, -1, :], rows)
        if self._rows:
            cache, mask = self._merge(cache, mask)
        self._rows.extend(rows)
        self._cache, self._mask = cache, mask
        start = len(self._rows) - len(rows)
        finished = [
            start + i for i, (row, token) in enumerate(zip(rows, tokens, strict=True)) if row.advance(token)
        ]
        self._drop(finished)

    def _merge(self, cache: Any, mask: Any) -> tuple[Any, Any]:
        import torch
        import torch.nn.functional as F

        old_len, new_len = self._mask.shape[1], mask.shape[1]
        width = max(old_len, new_len)
        for old_layer, new_layer in zip(self._cache.layers, cache.layers, strict=True):
            for name in ("keys", "values"):
                old = F.pad(getattr(old_layer, name), (0, 0, width - old_len, 0))
                new = F.pad(getattr(new_layer, name), (0, 0, width - new_len, 0))
                setattr(old_layer, name, torch.cat([old, new], dim=0))
        merged_mask = torch.cat([F.pad(self._mask, (width - old_len, 0)), F.pad(mask, (width - new_len, 0))])
        return self._cache, merged_mask

    def _step(self) -> None:
        import torch

        last = torch.tensor([[row.tokens[-1]] for row in self._rows])
        mask = torch.cat([self._mask, torch.ones((len(self._rows), 1), dtype=self._mask.dtype)], dim=1)
        positions = (mask.sum(-1, keepdim=True) - 1).clamp(min=0)
        out = self._forward(input_ids=last, attention_mask=mask, position_ids=positions, cache=self._cache)
        self._mask = mask
        tokens = self._choose(out.logits[:, -1, :], self._rows)
        finished = [
            i for i, (row, token) in enumerate(zip(self._rows, tokens, strict=True)) if row.advance(token)
        ]
        self._drop(finished)

    def _keep(self, keep: list[int]) -> None:
        """Keep the rows at ``keep`` in the batch and its cache, and trim the columns none of them uses."""
        import torch

        index = torch.tensor(keep)
        self._rows = [self._rows[i] for i in keep]
        mask = self._mask[index]
        first = int(mask.any(0).float().argmax())  # leading columns that no row uses any more
        self._mask = mask[:, first:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index.to(layer.keys.device), :, first:, :]
            layer.values = layer.values[index.to(layer.values.device), :, first:, :]
