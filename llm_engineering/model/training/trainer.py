"""One training stage (SFT or DPO): LoRA on a causal LM with TRL, resumable, then merged.

A stage writes into its own folder::

    <stage_dir>/checkpoints/checkpoint-N/   Trainer checkpoints (a rerun resumes from the last)
    <stage_dir>/adapter/                    the LoRA adapter (PEFT format) and tokenizer
    <stage_dir>/merged/                     base + adapter merged: a plain Hugging Face model folder
    <stage_dir>/result.json                 written last: the stage is complete

A stage whose ``result.json`` exists is not trained again; one with checkpoints but no result
resumes from its newest checkpoint (optimizer, scheduler, data order and loss history included).
"""

from __future__ import annotations

import gc
import json
import logging
import resource
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_engineering.configs.training import (
    DPOStageConfig,
    QuantizationConfig,
    SFTStageConfig,
    VoiceStageConfig,
)
from llm_engineering.domain.chat import ensure_chat_template

logger = logging.getLogger(__name__)

TrainingStage = Literal["voice", "sft", "dpo"]
"""What a training run does: the voice warm-up, SFT or DPO (its result becomes a :data:`~llm_engineering.model.registry.VersionStage`)."""
RESULT = "result.json"


class StageResult(BaseModel):
    """What one stage produced and how it went.

    Attributes:
        stage: ``voice``, ``sft`` or ``dpo``.
        adapter: the LoRA adapter folder (the merged folder when every weight was trained).
        merged: the merged model folder (``from_pretrained`` loads it).
        samples: training rows.
        steps: optimizer steps done in total (earlier sessions included).
        losses: ``[step, loss]`` pairs as logged.
        seconds: training time of the last session (a resumed run counts only its own part).
        cpu_seconds: CPU time of the process in that time, all threads: unlike ``seconds``, it
            hardly changes when other processes share the cores.
        trained_tokens: non-padding tokens fed to the model in the last session.
        processed_tokens: tokens fed including padding.
        tokens_per_second: ``trained_tokens / seconds``.
        peak_memory_mb: peak resident memory of the process so far.
        resumed_from: the checkpoint the last session started from, if any.
        metrics: other final figures (DPO reward margin and accuracy, ...).
        reused: this run found the stage complete and trained nothing (never saved).
    """

    stage: TrainingStage
    adapter: Path
    merged: Path
    samples: int
    steps: int
    losses: list[tuple[int, float]]
    seconds: float
    cpu_seconds: float = 0.0
    trained_tokens: int
    processed_tokens: int
    tokens_per_second: float
    peak_memory_mb: float
    resumed_from: str | None = None
    metrics: dict[str, float] = {}
    reused: bool = Field(default=False, exclude=True)

    @property
    def loss_first(self) -> float | None:
        return self.losses[0][1] if self.losses else None

    @property
    def loss_last(self) -> float | None:
        return self.losses[-1][1] if self.losses else None

    @property
    def padding_share(self) -> float:
        return 1 - self.trained_tokens / self.processed_tokens if self.processed_tokens else 0.0

    def figures(self) -> dict[str, Any]:
        """Flat figures for metadata and the registry."""
        return {
            f"{self.stage}_steps": self.steps,
            f"{self.stage}_loss_first": self.loss_first,
            f"{self.stage}_loss_last": self.loss_last,
            f"{self.stage}_tokens_per_second": round(self.tokens_per_second, 1),
            f"{self.stage}_padding_share": round(self.padding_share, 4),
            f"{self.stage}_seconds": round(self.seconds, 1),
            f"{self.stage}_cpu_seconds": round(self.cpu_seconds, 1),
            f"{self.stage}_peak_memory_mb": round(self.peak_memory_mb),
            **{f"{self.stage}_{k.replace('/', '_')}": v for k, v in self.metrics.items()},
        }

    def summary(self) -> str:
        """One line: steps, loss first -> last, tokens/s, padding, seconds, output folder."""
        loss = f"{self.loss_first:.3f} -> {self.loss_last:.3f}" if self.losses else "n/a"
        resumed = f", resumed from {self.resumed_from}" if self.resumed_from else ""
        if "cut_share" in self.metrics:
            resumed += (
                f", {self.metrics['cut_share']:.0%} of rows cut to max_length at a sentence end"
                f" ({self.metrics.get('rows_dropped', 0):.0f} dropped)"
            )
        reused = "complete in an earlier run, reused: " if self.reused else ""
        return (
            f"{self.stage}: {reused}{self.steps} steps on {self.samples} samples, loss {loss}, "
            f"{self.tokens_per_second:.0f} tokens/s, {self.padding_share:.1%} padding, {self.seconds:.1f}s, "
            f"peak {self.peak_memory_mb:.0f} MB{resumed} -> {self.merged}"
        )


class TokenCounter:
    """Wraps a data collator and counts the tokens of every batch it builds (padding apart)."""

    def __init__(self, collator: Any) -> None:
        self.collator = collator
        self.trained = 0
        self.processed = 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collator(features)
        ids = batch["input_ids"]
        self.processed += int(ids.numel())
        mask = batch.get("attention_mask")
        self.trained += int(mask.sum()) if mask is not None else int(ids.numel())
        return batch


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def completed_stage(stage_dir: Path) -> StageResult | None:
    """The result of a finished stage in ``stage_dir``, or None."""
    path = Path(stage_dir) / RESULT
    return StageResult.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None


def _load_model(folder: Path, *, bf16: bool, quantization: QuantizationConfig) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if quantization.load_in_4bit:
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization.bnb_4bit_quant_type,
            bnb_4bit_compute_dtype=getattr(torch, quantization.bnb_4bit_compute_dtype),
            bnb_4bit_use_double_quant=quantization.bnb_4bit_use_double_quant,
        )
        kwargs["device_map"] = {"": PartialState().process_index}  # one copy per GPU (accelerate launch)
    return AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)


def load_tokenizer(folder: Path) -> Any:
    """The model's tokenizer with the twin's chat template and a pad token ensured."""
    from transformers import AutoTokenizer

    return ensure_chat_template(AutoTokenizer.from_pretrained(str(folder)))


def _trl_args(
    stage: TrainingStage,
    settings: VoiceStageConfig | SFTStageConfig | DPOStageConfig,
    *,
    output_dir: Path,
    device: str,
    bf16: bool,
):
    from trl import DPOConfig, SFTConfig

    common = {
        **settings.trainer_kwargs(),
        "output_dir": str(output_dir),
        "save_strategy": "steps",
        "logging_strategy": "steps",
        "report_to": "none",
        "use_cpu": device == "cpu",
        "bf16": bf16,
        "dataloader_num_workers": 0,
    }
    if settings.activation_checkpointing:
        common["activation_checkpointing_kwargs"] = {"use_reentrant": False}
    if stage == "voice":  # plain text: the loss covers every token, each row ends with the eos token
        return SFTConfig(**common, dataset_text_field="text", packing=False)
    return SFTConfig(**common) if stage == "sft" else DPOConfig(**common)


def merge_adapter(
    base_folder: Path, adapter: Path, destination: Path, *, tokenizer: Any, dtype: str = "bfloat16"
) -> Path:
    """Merge a LoRA adapter into a fresh copy of its base and save a plain Hugging Face folder.

    The base is reloaded unquantized (a 4-bit QLoRA base cannot absorb the adapter), in ``dtype``;
    the folder gets the tokenizer with its chat template and a generation config that stops at
    the end-of-turn token.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(base_folder), dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    return _save_folder(merged, destination, tokenizer=tokenizer)


def _save_full(model: Any, destination: Path, *, tokenizer: Any, dtype: str) -> Path:
    """Save a model trained in all its weights as a plain Hugging Face folder in ``dtype``."""
    import torch

    return _save_folder(model.to(getattr(torch, dtype)), destination, tokenizer=tokenizer)


def _save_folder(model: Any, destination: Path, *, tokenizer: Any) -> Path:
    """Save ``model`` and ``tokenizer`` to ``destination``, generation stopping at the tokenizer's end token."""
    generation = model.generation_config
    generation.eos_token_id = tokenizer.eos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    destination.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(destination))
    tokenizer.save_pretrained(str(destination))
    return destination


@contextmanager
def lm_head_on_labelled_positions(device: str) -> Iterator[None]:
    """While open, TRL's fused LM head scores only the positions that carry a label, on the CPU.

    TRL's SFT and DPO losses project the hidden states through the LM head (49,152 words by 576
    for SmolLM2) in tiles. Off Triton devices TRL projects every position, prompt and padding
    included, so that compilers see the same tile shapes on every batch. Eager PyTorch on the CPU
    compiles nothing, and two thirds of a served-prompt row is prompt, which carries no label. Here
    only the labelled positions are projected: the loss and the gradients are the same, bit for
    bit, and an SFT step of the demo's rows costs ×0.73 the CPU time, a DPO step ×0.80
    (``python -m bench.demo_training --compare-positions``). Elsewhere nothing changes.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if device != "cpu":
        yield
        return
    if original is None:
        logger.warning(
            "this TRL has no trl.trainer.utils._use_triton: every position goes through the LM head"
        )
        yield
        return
    trl_utils._use_triton = lambda where: where.type == "cpu" or original(where)
    try:
        yield
    finally:
        trl_utils._use_triton = original


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint that was written to the end, or None.

    The Trainer writes ``trainer_state.json`` last; a run killed while saving leaves a folder
    without it, which is skipped (and overwritten when training reaches that step again).
    """
    complete = [
        folder
        for folder in checkpoints.glob("checkpoint-*")
        if folder.name.removeprefix("checkpoint-").isdigit() and (folder / "trainer_state.json").is_file()
    ]
    if not complete:
        return None
    return str(max(complete, key=lambda folder: int(folder.name.removeprefix("checkpoint-"))))


def train_stage(
    stage: TrainingStage,
    *,
    model_folder: Path,
    train_rows: Any,
    settings: VoiceStageConfig | SFTStageConfig | DPOStageConfig,
    stage_dir: Path,
    device: str = "cpu",
    bf16: bool = False,
    quantization: QuantizationConfig | None = None,
    merged_dtype: str = "bfloat16",
    callbacks: Sequence[Any] = (),
    data_figures: dict[str, float] | None = None,
) -> StageResult:
    """Train one LoRA stage on ``model_folder`` and merge it; resume or reuse what a run left.

    Args:
        stage: ``voice`` (rows: text), ``sft`` (rows: prompt/completion) or ``dpo`` (rows:
            prompt/chosen/rejected).
        model_folder: the model to adapt (the base for SFT, the merged SFT twin for DPO; DPO's
            reference is this same model with the adapter switched off).
        train_rows: the conversational training rows (:mod:`.data`).
        settings: the stage's TRL settings and LoRA block.
        stage_dir: the stage's folder in the run folder.
        device: ``cpu``, ``cuda``, ``mps`` or ``auto``.
        bf16: bfloat16 mixed precision.
        quantization: 4-bit loading of ``model_folder`` (QLoRA).
        merged_dtype: dtype of the merged folder.
        callbacks: extra ``TrainerCallback`` objects.
        data_figures: figures of the rows (e.g. the share cut to ``max_length``), kept in the result.

    Returns:
        The stage's result, also saved as ``stage_dir/result.json``.
    """
    from accelerate import PartialState
    from peft import LoraConfig
    from trl import DPOTrainer, SFTTrainer

    done = completed_stage(stage_dir)
    if done is not None:
        logger.info("%s: complete in %s, reused", stage, stage_dir)
        return done.model_copy(update={"reused": True})
    checkpoints = stage_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    resume = last_complete_checkpoint(checkpoints)
    tokenizer = load_tokenizer(model_folder)
    model = _load_model(model_folder, bf16=bf16, quantization=quantization or QuantizationConfig())
    full = bool(getattr(settings, "full_parameters", False))
    trainer_class = DPOTrainer if stage == "dpo" else SFTTrainer
    trainer = trainer_class(
        model,
        args=_trl_args(stage, settings, output_dir=checkpoints, device=device, bf16=bf16),
        train_dataset=train_rows,
        processing_class=tokenizer,
        peft_config=None if full else LoraConfig(**settings.lora.peft_kwargs()),
        callbacks=list(callbacks),
    )
    counter = TokenCounter(trainer.data_collator)
    trainer.data_collator = counter
    if resume:
        logger.info("%s: resuming from %s", stage, resume)
    started, cpu_started = time.perf_counter(), time.process_time()
    with lm_head_on_labelled_positions(device):
        output = trainer.train(resume_from_checkpoint=resume)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    adapter = stage_dir / ("merged" if full else "adapter")
    if full:
        _save_full(trainer.model, adapter, tokenizer=tokenizer, dtype=merged_dtype)
    else:
        trainer.save_model(str(adapter))
    history = trainer.state.log_history
    losses = [(int(entry["step"]), float(entry["loss"])) for entry in history if "loss" in entry]
    last_logged = next((entry for entry in reversed(history) if "loss" in entry), {})
    metrics = {
        key: float(value)
        for key, value in last_logged.items()
        if key.startswith(("rewards/", "mean_token_accuracy")) and isinstance(value, int | float)
    }
    steps = int(output.global_step)
    del trainer, model
    gc.collect()
    state = PartialState()  # under `accelerate launch`, one process merges; the others wait for it
    if state.is_main_process:
        merged = (
            adapter
            if full
            else merge_adapter(
                model_folder, adapter, stage_dir / "merged", tokenizer=tokenizer, dtype=merged_dtype
            )
        )
        result = StageResult(
            stage=stage,
            adapter=adapter,
            merged=merged,
            samples=len(train_rows),
            steps=steps,
            losses=losses,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            trained_tokens=counter.trained,
            processed_tokens=counter.processed,
            tokens_per_second=counter.trained / seconds if seconds else 0.0,
            peak_memory_mb=peak_memory_mb(),
            resumed_from=Path(resume).name if resume else None,
            metrics={**metrics, **(data_figures or {})},
        )
        (stage_dir / RESULT).write_text(
            json.dumps(result.model_dump(mode="json"), indent=2), encoding="utf-8"
        )
    state.wait_for_everyone()
    result = completed_stage(stage_dir)
    assert result is not None  # written by the main process above
    logger.info(result.summary())
    return result
