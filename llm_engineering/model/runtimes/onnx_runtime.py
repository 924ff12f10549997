"""The ONNX export of a twin: built once with ONNX Runtime GenAI's model builder (int8 weights by default).

:func:`export_onnx` runs the library's model builder on a merged Hugging Face folder and
saves the result beside it (``<folder>-onnx-int8``; ``int4`` or ``fp32`` on request). Registering a
trained version exports it; :func:`llm_engineering.model.generation.load_generator` exports
lazily what is missing (the base model too). An export is built in a temporary folder and
renamed into place under a file lock, so two processes never see half of one.

Decoding (:mod:`~llm_engineering.model.runtimes.onnx_decoder`) runs the exported graph with
ONNX Runtime directly and keeps the transformers path's rules: the same prompt token ids, every
token picked by the shared decoding rules from the ONNX logits.

Precision is checked, not assumed (``poe bench-runtime``): on SmolLM2-135M, held-out handbook
perplexity of the int8 export is within 0.3% of the float32 folder's, the fp32 export's equal,
and the int4 export's 40% higher (even with k-quant and an int8 head: 18%); so int8 is the
default, and int4 (smaller and faster) is a choice for larger models.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

PRECISIONS = ("int8", "int4", "fp32")
"""What the exporter writes: int8 weights (the default; ~270 MB for SmolLM2-135M), int4 (~90 MB) or float32."""
DEFAULT_PRECISION = "int8"
MARKER = "llm_twin_export.json"


class ExportError(RuntimeError):
    """The model builder could not export a folder."""


def onnx_precision(dtype: Any) -> str:
    """The export precision a ``load_generator`` dtype means: fp32 for float32, int8 or int4 as named,
    else (None, a torch half dtype) the default, int8."""
    name = str(dtype or DEFAULT_PRECISION).lower().removeprefix("torch.")
    if name in ("fp32", "float32", "float"):
        return "fp32"
    if name in PRECISIONS:
        return name
    if name in ("bfloat16", "bf16", "float16", "fp16", "auto"):
        return DEFAULT_PRECISION  # a torch dtype of the transformers path
    raise ValueError(f"an ONNX export is one of {', '.join(PRECISIONS)}, not {dtype!r}")


def onnx_folder(folder: str | Path, precision: str = DEFAULT_PRECISION) -> Path:
    """Where the export of the merged ``folder`` lives: beside it, ``<name>-onnx-<precision>``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    folder = Path(folder)
    return folder.parent / f"{folder.name}-onnx-{precision}"


def is_exported(folder: str | Path, precision: str = DEFAULT_PRECISION) -> bool:
    """Whether ``folder`` has a complete export of that precision."""
    out = onnx_folder(folder, precision)
    return (out / MARKER).is_file() and (out / "genai_config.json").is_file()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def export_onnx(folder: str | Path, *, precision: str = DEFAULT_PRECISION, force: bool = False) -> Path:
    """Export the merged Hugging Face ``folder`` for ONNX Runtime GenAI on the CPU, once; returns the export.

    Raises:
        FileNotFoundError: ``folder`` has no ``config.json``.
        ExportError: the builder failed (its last output lines are in the message).
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no Hugging Face model at {folder} (config.json missing)")
    out = onnx_folder(folder, precision)
    with _locked(out.parent / f".{out.name}.lock"):
        if is_exported(folder, precision) and not force:
            return out
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as work:
            target = Path(work) / "model"
            command = [
                sys.executable, "-m", "onnxruntime_genai.models.builder",
                "-m", str(folder), "-i", str(folder), "-o", str(target),
                "-p", precision, "-e", "cpu", "-c", str(Path(work) / "cache"),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not (target / "genai_config.json").is_file():
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
                raise ExportError(f"exporting {folder} to ONNX ({precision}) failed:\n{tail}")
            (target / MARKER).write_text(
                json.dumps(
                    {"source": str(folder), "precision": precision, "seconds": time.perf_counter() - started}
                )
            )
            if out.exists():
                shutil.rmtree(out)
            target.rename(out)
    logger.info("exported %s to %s (%s) in %.1f s", folder, out, precision, time.perf_counter() - started)
    return out


def context_length(export: str | Path) -> int:
    """The model's context (tokens) as its export's ``genai_config.json`` says."""
    config = json.loads((Path(export) / "genai_config.json").read_text())
    return int(config["model"].get("context_length") or 2048)


def token_log_likelihoods(session: Any, token_ids: Sequence[int]) -> np.ndarray:
    """Log-probability of each token after the first under an :class:`OnnxSession` (one prefill's logits).

    Used to check an export's quality (perplexity of held-out text) against the folder it came from,
    with the same session and kernels that serving decodes with.
    """
    if len(token_ids) < 2:
        raise ValueError("scoring needs at least two tokens")
    logits, _ = session.run([list(token_ids)], [[1] * len(token_ids)], session.empty(1))
    logits = np.asarray(logits, dtype=np.float64).reshape(len(token_ids), -1)[:-1]
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return log_probs[np.arange(len(token_ids) - 1), np.asarray(token_ids[1:])]
