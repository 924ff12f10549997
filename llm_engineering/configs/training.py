"""Config of the ``training`` pipeline (configs/training.yaml, configs/training_gpu.yaml).

The ``sft`` and ``dpo`` sections use TRL's own argument names (``SFTConfig``, ``DPOConfig``
and their ``TrainingArguments``), so a value reads the same here as in TRL's documentation;
each has a ``lora`` block with PEFT's ``LoraConfig`` names. Checks that need no data run
here (unknown keys, ranges, a 4-bit model on a CPU); checks that need the data (no dataset
yet, wrong columns, ``max_length`` shorter than the system prompt) run before training
starts, in :func:`llm_engineering.model.training.plan.plan_training`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from llm_engineering.configs import StrictModel


class LoraAdapterConfig(StrictModel):
    """The LoRA adapter (PEFT ``LoraConfig`` names)."""

    r: Annotated[int, Field(ge=1, le=1024)] = 8
    """Rank of the update matrices."""
    lora_alpha: Annotated[int, Field(ge=1)] = 16
    """Scale of the update (``lora_alpha / r``)."""
    lora_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.05
    """Dropout on the adapter's input."""
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    """Modules that get an adapter: ``all-linear`` or names such as ``[q_proj, v_proj]``."""

    def peft_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``peft.LoraConfig``."""
        return {**self.model_dump(), "task_type": "CAUSAL_LM", "bias": "none"}


class _StageConfig(StrictModel):
    """Arguments that SFT and DPO share (TRL / ``transformers.TrainingArguments`` names)."""

    num_train_epochs: Annotated[float, Field(gt=0)] = 1.0
    """Passes over the training split (ignored when ``max_steps`` > 0)."""
    max_steps: int = -1
    """Optimizer steps to run; -1: ``num_train_epochs`` decides."""
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 2e-4
    """Peak learning rate of the adapter."""
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    """Learning-rate schedule."""
    warmup_steps: Annotated[float, Field(ge=0)] = 0
    """Warm-up: steps (>= 1) or a share of all steps (< 1)."""
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    """AdamW weight decay."""
    per_device_train_batch_size: Annotated[int, Field(ge=1)] = 2
    """Samples per step and device."""
    gradient_accumulation_steps: Annotated[int, Field(ge=1)] = 1
    """Steps whose gradients add up before one optimizer update."""
    max_length: Annotated[int, Field(ge=16)] = 256
    """Longest tokenized sample (prompt + answer); longer ones are truncated at the end."""
    activation_checkpointing: bool = False
    """Recompute activations in the backward pass (``gradient_checkpointing`` before transformers 5):
    less memory, ~30% slower."""
    logging_steps: Annotated[int, Field(ge=1)] = 1
    """Log the loss every this many steps (the loss curve's resolution)."""
    save_steps: Annotated[int, Field(ge=1)] = 25
    """Write a checkpoint every this many steps; a killed run resumes from the last one."""
    save_total_limit: Annotated[int, Field(ge=1)] = 2
    """Checkpoints kept."""
    seed: int = 42
    """Seed of the data order and the adapter's initialisation."""
    max_train_samples: Annotated[int | None, Field(ge=1)] = None
    """Use only the first N rows of the training split (quick runs); None: all."""
    lora: LoraAdapterConfig = Field(default_factory=LoraAdapterConfig)
    """The adapter."""

    def trainer_kwargs(self) -> dict[str, Any]:
        """The TRL config arguments of these settings (everything but the adapter and the row limit)."""
        return self.model_dump(
            exclude={"lora", "max_train_samples", "max_answer_tokens", "enabled", "full_parameters"}
        )


class SFTStageConfig(_StageConfig):
    """Supervised fine-tuning on the instruction dataset (TRL ``SFTConfig``)."""

    packing: bool = False
    """Pack several samples into one ``max_length`` row (best-fit decreasing, padding-free): no
    padding, each sample still attends only to itself. Off by default: on the CPU (sdpa with a
    block-diagonal mask) it trained 0.84x the tokens per CPU-second of unpacked batches that
    were only 3% padding; it pays for short, uneven samples and with flash attention on GPUs."""
    packing_strategy: Literal["bfd", "bfd_split", "wrapped"] = "bfd"
    """TRL's packing strategy."""
    max_answer_tokens: Annotated[int | None, Field(ge=8)] = 160
    """The longest trained answer in tokens, cut at a paragraph or sentence end (the end of turn
    follows): a budget well under the served limit (256 tokens in evaluation), so the twin learns
    answers that end. None: only ``max_length`` bounds the answer."""


class VoiceStageConfig(_StageConfig):
    """The voice stage: continued pretraining (causal LM) on the author's own text of the training
    split, before SFT (TRL ``SFTConfig`` on plain text)."""

    enabled: bool = False
    """Run the voice stage; SFT then starts from its model instead of the base. Off by default:
    12 steps on one handbook author's articles lowered both authors' held-out perplexity alike
    (x0.95, LoRA and all weights) and made one greedy answer of three loop (``bench.voice``)."""
    full_parameters: bool = False
    """Train every weight instead of a LoRA adapter (135M parameters fit on this CPU: ~1.6 GB more)."""
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 5e-4
    """Peak learning rate (a LoRA adapter; use ~2e-5 with ``full_parameters``)."""
    max_length: Annotated[int, Field(ge=16)] = 384
    """Longest text row in tokens (an extract of the author's text; longer ones are cut)."""


class DPOStageConfig(_StageConfig):
    """Preference tuning on the preference dataset, starting from the SFT twin (TRL ``DPOConfig``)."""

    enabled: bool = True
    """Run DPO after SFT; false: the SFT twin is the run's result."""
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 5e-5
    """Peak learning rate of the DPO adapter."""
    beta: Annotated[float, Field(gt=0)] = 0.1
    """Strength of the pull towards the reference (the SFT twin): lower lets the policy move further."""
    loss_type: Literal["sigmoid", "hinge", "ipo", "robust"] = "sigmoid"
    """DPO loss variant."""
    max_answer_tokens: Annotated[int | None, Field(ge=8)] = 160
    """The longest ``chosen`` or ``rejected`` answer in tokens (as SFT's)."""


class DatasetSelection(StrictModel):
    """Which dataset versions to train on."""

    instruction: Path | None = None
    """An instruction dataset version folder (or its name under STATE_DIR/datasets/instruction);
    None: the newest (``LATEST``)."""
    preference: Path | None = None
    """A preference dataset version folder (or name under STATE_DIR/datasets/preference); None: the newest."""
    root: Path | None = None
    """Where versions are looked up; None: STATE_DIR/datasets."""


class QuantizationConfig(StrictModel):
    """Loading the base model in 4 bits for QLoRA (bitsandbytes, CUDA only)."""

    load_in_4bit: bool = False
    """Quantize the frozen base weights to 4 bits (QLoRA)."""
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = "nf4"
    """4-bit data type."""
    bnb_4bit_compute_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    """Data type of the matrix multiplications."""
    bnb_4bit_use_double_quant: bool = True
    """Quantize the quantization constants too (~0.4 bits per weight less)."""


class TrainingOutputConfig(StrictModel):
    """Where the twin goes besides STATE_DIR/models/runs/<run>/."""

    merged_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    """Data type of the merged model folders (bf16 generates ~2x faster than fp32 on this CPU)."""
    push_to_hub: bool = False
    """Push the merged DPO twin (or the SFT twin when DPO is off) to ``hub_model_id``;
    needs HUGGINGFACE_ACCESS_TOKEN."""
    hub_model_id: str | None = None
    """Hub repository, ``user/name``."""
    hub_private: bool = True
    """Create the hub repository as private."""

    @model_validator(mode="after")
    def _hub_target(self) -> TrainingOutputConfig:
        if self.push_to_hub and not self.hub_model_id:
            raise ValueError("push_to_hub needs hub_model_id (user/name)")
        return self


class TrainingConfig(StrictModel):
    """The ``training`` pipeline: SFT then DPO of the twin with LoRA adapters."""

    base_model: str | None = None
    """Base model: a local Hugging Face folder or a hub id; None: the BASE_MODEL setting, else the
    packaged SmolLM2-135M-Instruct (converted once, offline)."""
    author: str | None = None
    """Whose twin (named in the system prompt of every sample); None: the single author named in
    the instruction dataset's card."""
    datasets: DatasetSelection = Field(default_factory=DatasetSelection)
    """Dataset versions."""
    voice: VoiceStageConfig = Field(default_factory=VoiceStageConfig)
    """Continued pretraining on the author's text before SFT."""
    sft: SFTStageConfig = Field(default_factory=SFTStageConfig)
    """Supervised fine-tuning."""
    dpo: DPOStageConfig = Field(default_factory=DPOStageConfig)
    """Preference tuning."""
    self_play: bool = False
    """Before DPO, rewrite the preference dataset's ``rejected`` answers with the SFT twin itself
    (the dataset pipeline's ``model`` strategy): DPO then pushes the twin away from its own
    current answers towards the author's."""
    self_play_max_tokens: Annotated[int, Field(ge=8, le=4096)] = 128
    """Most tokens of one self-play answer."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """Where to train; ``auto``: CUDA when available, else the CPU."""
    bf16: bool = False
    """Train in bfloat16 mixed precision (GPUs; on this CPU fp32 is faster for training)."""
    quantization: QuantizationConfig = Field(default_factory=QuantizationConfig)
    """4-bit loading of the base model (QLoRA)."""
    output: TrainingOutputConfig = Field(default_factory=TrainingOutputConfig)
    """Merged dtype and hub push."""

    @field_validator("author")
    @classmethod
    def _fold_author(cls, value: str | None) -> str | None:
        if value is None:
            return None
        folded = " ".join(value.split())
        if not folded:
            raise ValueError("author is blank; give a name or leave it out")
        return folded

    @model_validator(mode="after")
    def _self_play_needs_dpo(self) -> TrainingConfig:
        if self.self_play and not self.dpo.enabled:
            raise ValueError("self_play regenerates the preference data for DPO: it needs dpo.enabled")
        return self

    def fingerprint_fields(self) -> dict[str, Any]:
        """What decides a run's results (the run folder is keyed by its hash with the dataset versions)."""
        return self.model_dump(
            mode="json", exclude={"datasets": True, "output": {"push_to_hub", "hub_model_id", "hub_private"}}
        )
