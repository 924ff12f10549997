"""The CPU decoder: an ONNX export run by ONNX Runtime, requests of any length decoded in one batch.

The exported graph's attention (GroupQueryAttention) reads each row's length from its attention
mask and writes each row's new key and value at that row's own position in a cache buffer that
is both its input and its output (bound once, written in place). So rows of different lengths
share a step with no left padding at all: every row's cache is **right**-padded, a row's mask is
ones over its own tokens (plus the new one) and zeros after, and its rotary position is its own
length. (Without the shared buffer, ONNX Runtime 1.32's CPU attention put decoded tokens' logits
up to 0.18 away from transformers' on the same weights; with it they agree to 1e-7.) A new request is prefilled alone (exactly as if it were the only
one), then joins the batch's cache at the next step; a finished row leaves it. A row's logits
are then the same whatever its neighbours (tested), which onnxruntime-genai 0.18's own batching
does not give on the CPU: it builds an all-ones mask for a left-padded batch, and a padded row's
logits were measured up to 3.7 away from the same prompt alone.

Every token is picked by :meth:`DecodeRow.choose` (the shared numpy decoding rules) from these
logits, as in the transformers runtime. ONNX Runtime's intra-op threads do not spin while
waiting: on a shared 2-core machine spinning made one stream 1.8x slower.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_engineering.model.runtimes.rows import DecodeRow
from llm_engineering.model.runtimes.scheduler import Scheduler

logger = logging.getLogger(__name__)

_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


class OnnxSession:
    """The exported decoder graph in an ONNX Runtime session, with its inputs' names and types.

    Args:
        export: the export folder (``genai_config.json`` and the model file).
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
    """

    def __init__(self, export: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.export = Path(export)
        config = json.loads((self.export / "genai_config.json").read_text())["model"]
        decoder = config["decoder"]
        self.context = int(config.get("context_length") or 2048)
        self.layers = int(decoder["num_hidden_layers"])
        self.kv_heads = int(decoder["num_key_value_heads"])
        self.head_size = int(decoder["head_size"])
        names = decoder["inputs"]
        self.key_names = [names["past_key_names"] % i for i in range(self.layers)]
        self.value_names = [names["past_value_names"] % i for i in range(self.layers)]
        self.ids_name, self.mask_name = names["input_ids"], names["attention_mask"]
        outputs = decoder["outputs"]
        self.logits_name = outputs["logits"]
        self.present_names = {
            **{self.key_names[i]: outputs["present_key_names"] % i for i in range(self.layers)},
            **{self.value_names[i]: outputs["present_value_names"] % i for i in range(self.layers)},
        }
        self.positions_name = names.get("position_ids")
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(self.export / decoder["filename"]), options, providers=["CPUExecutionProvider"]
        )
        types = {i.name: i.type for i in self.session.get_inputs()}
        self.kv_type = _NUMPY[types[self.key_names[0]]]
        self.ids_type = _NUMPY[types[self.ids_name]]
        self.mask_type = _NUMPY[types[self.mask_name]]
        self.positions_type = _NUMPY[types[self.positions_name]] if self.positions_name in types else None
        if self.positions_type is None:
            self.positions_name = None

    def empty(self, batch: int) -> list[np.ndarray]:
        """An empty cache (keys then values, layer by layer) for ``batch`` rows."""
        shape = (batch, self.kv_heads, 0, self.head_size)
        return [np.zeros(shape, dtype=self.kv_type) for _ in range(2 * self.layers)]

    def run(
        self, ids: Sequence[Sequence[int]], mask: Sequence[Sequence[int]], past: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass: ``(logits [batch, tokens, vocab], present cache)``."""
        feed: dict[str, np.ndarray] = {
            self.ids_name: np.asarray(ids, dtype=self.ids_type),
            self.mask_name: np.asarray(mask, dtype=self.mask_type),
        }
        if self.positions_name:
            lengths = feed[self.mask_name].sum(-1, keepdims=True)
            width = feed[self.ids_name].shape[1]
            feed[self.positions_name] = (lengths - width + np.arange(width)).astype(self.positions_type)
        for i in range(self.layers):
            feed[self.key_names[i]], feed[self.value_names[i]] = past[2 * i], past[2 * i + 1]
        outputs = self.session.run(None, feed)
        return outputs[0], outputs[1 : 1 + 2 * self.layers]

    def buffers(self, batch: int, capacity: int) -> list[np.ndarray]:
        """A zeroed cache buffer (keys then values, layer by layer) of ``capacity`` tokens per row."""
        shape = (batch, self.kv_heads, capacity, self.head_size)
        return [np.zeros(shape, dtype=self.kv_type) for _ in range(2 * self.layers)]

    def step(
        self, ids: Sequence[Sequence[int]], mask: Sequence[Sequence[int]], cache: list[Any]
    ) -> np.ndarray:
        """One forward pass writing the new keys and values into ``cache`` in place (``OrtValue`` buffers);
        returns the logits ``[batch, tokens, vocab]``."""
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.ids_name, np.asarray(ids, dtype=self.ids_type))
        masks = np.asarray(mask, dtype=self.mask_type)
        binding.bind_cpu_input(self.mask_name, masks)
        if self.positions_name:
            width = len(ids[0])
            positions = masks.sum(-1, keepdims=True) - width + np.arange(width)
            binding.bind_cpu_input(self.positions_name, positions.astype(self.positions_type))
        for i in range(self.layers):
            for name, value in ((self.key_names[i], cache[2 * i]), (self.value_names[i], cache[2 * i + 1])):
                binding.bind_ortvalue_input(name, value)
                binding.bind_ortvalue_output(self.present_names[name], value)
        binding.bind_output(self.logits_name)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[-1]


class OnnxScheduler(Scheduler):
    """Ragged continuous batching of an ONNX export (see the module doc).

    Args:
        export: the exported folder.
        tokenizer: the Hugging Face tokenizer of the merged folder (prompts and text).
        eos_ids: token ids that end a turn.
        max_batch: most requests decoded together.
    """

    def __init__(
        self, export: str | Path, tokenizer: Any, *, eos_ids: Sequence[int], max_batch: int = 16
    ) -> None:
        super().__init__(tokenizer, eos_ids=eos_ids, max_batch=max_batch, name="onnx-decoder")
        self.model: OnnxSession | None = OnnxSession(export)
        self.context = self.model.context
        self._lengths: list[int] = []  # tokens in each row's cache
        self._arrays: list[np.ndarray] = []  # the batch's cache buffers [rows, heads, capacity, head size]
        self._cache: list[Any] = []  # the same memory as OrtValues, bound as input and output
        self.start()

    def _reset(self) -> None:
        self._rows, self._lengths, self._arrays, self._cache = [], [], [], []

    def _release(self) -> None:
        self._reset()
        self.model = None

    def _bind(self, arrays: list[np.ndarray]) -> None:
        """Make ``arrays`` the batch's cache; ONNX Runtime writes into their memory, so they are kept."""
        import onnxruntime as ort

        self._arrays = [np.ascontiguousarray(a) for a in arrays]
        self._cache = [ort.OrtValue.ortvalue_from_numpy(a) for a in self._arrays]

    def _admit(self, rows: list[DecodeRow]) -> None:
        import onnxruntime as ort

        for row in rows:
            length = len(row.prompt_ids)
            capacity = min(self.context, length + row.decoding.max_new_tokens + 1)
            arrays = self.model.buffers(1, capacity)
            try:
                cache = [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays]
                logits = self.model.step([row.prompt_ids], [[1] * length], cache)  # writes into ``arrays``
            except Exception as error:  # noqa: BLE001 - one bad prompt fails only its own request
                logger.exception("prefill failed")
                row.fail(error)
                continue
            token = row.choose(logits[0, -1])
            if row.advance(token):
                continue
            row.state = token
            self._join(row, arrays, length)

    def _join(self, row: DecodeRow, arrays: list[np.ndarray], length: int) -> None:
        """Add one prefilled row to the batch (the buffers widened to the larger capacity)."""
        if not self._rows:
            self._rows, self._lengths = [row], [length]
            self._bind(arrays)
            return
        current = self._arrays
        width = max(current[0].shape[2], arrays[0].shape[2])

        def pad(array: np.ndarray) -> np.ndarray:
            missing = width - array.shape[2]
            return np.pad(array, ((0, 0), (0, 0), (0, missing), (0, 0))) if missing else array

        self._bind([np.concatenate([pad(old), pad(new)]) for old, new in zip(current, arrays, strict=True)])
        self._rows.append(row)
        self._lengths.append(length)

    def _step(self) -> None:
        width = max(self._lengths) + 1
        mask = [[1] * (n + 1) + [0] * (width - n - 1) for n in self._lengths]
        logits = self.model.step([[row.state] for row in self._rows], mask, self._cache)
        finished = []
        for i, row in enumerate(self._rows):
            self._lengths[i] += 1
            token = row.choose(logits[i, -1])
            row.state = token
            if row.advance(token):
                finished.append(i)
        self._drop(finished)

    def _keep(self, keep: list[int]) -> None:
        index = np.asarray(keep)
        self._bind([array[index] for array in self._arrays])
        self._rows = [self._rows[i] for i in keep]
        self._lengths = [self._lengths[i] for i in keep]
