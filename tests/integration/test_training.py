"""Training on a tiny locally built model and on the packaged SmolLM2: SFT then DPO, merge, reload,
resume after an interruption, self-play, registry records."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import TrainerCallback

from llm_engineering.configs.training import TrainingConfig
from llm_engineering.domain.chat import build_messages
from llm_engineering.model.generation import generate_answers, load_causal_lm
from llm_engineering.model.registry import ModelRegistry
from llm_engineering.model.training.flow import train_twin
from tests.model_fixtures import save_training_datasets

pytestmark = pytest.mark.integration


def _config(base: Path, **overrides) -> TrainingConfig:
    stage = {"max_steps": 3, "learning_rate": 1e-2, "max_length": 128, "save_steps": 2, "lora": {"r": 4}}
    data = {
        "base_model": str(base),
        "voice": {**stage, "enabled": False},
        "sft": {**stage},
        "dpo": {**stage},
        "output": {"merged_dtype": "float32"},
        "device": "cpu",
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            data[section] = {**data[section], name: value}
        else:
            data[key] = value
    return TrainingConfig.model_validate(data)


def _lora_b_norm(adapter: Path) -> float:
    from safetensors.torch import load_file

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    lora_b = [w for name, w in weights.items() if "lora_B" in name]
    assert lora_b, "the adapter has no LoRA B matrices"
    return float(sum(w.abs().sum() for w in lora_b))


def test_tiny_model_trains_sft_then_dpo_merges_and_registers(tiny_model_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    plan, results, versions = train_twin(
        _config(tiny_model_dir), models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets"
    )
    sft, dpo = results
    assert plan.author == "Ada Lovelace"  # read from the dataset card
    for result in results:
        assert [step for step, _ in result.losses] == [1, 2, 3]  # a loss at every step
        assert all(loss > 0 for _, loss in result.losses)
        assert _lora_b_norm(result.adapter) > 0  # LoRA B starts at zero: training changed it
        assert result.trained_tokens > 0 and result.tokens_per_second > 0
    assert sft.loss_last < sft.loss_first  # lr 1e-2 on 6 repeated rows: the loss falls
    assert dpo.metrics["rewards/margins"] > 0
    # The merged twin is a plain Hugging Face folder that loads and answers.
    model, tokenizer = load_causal_lm(dpo.merged)
    assert not hasattr(model, "peft_config")
    [answer] = generate_answers(
        model, tokenizer, [build_messages("Hi", author="Ada Lovelace")], max_new_tokens=4
    )
    assert answer.completion_tokens >= 1
    assert tokenizer.chat_template and model.generation_config.eos_token_id == tokenizer.eos_token_id
    registry = ModelRegistry(tmp_path / "models")
    assert [v.name for v in versions] == [f"{plan.run}-sft", f"{plan.run}-dpo"]
    assert registry.latest("dpo").folder == dpo.merged
    assert registry.get("base").folder == tiny_model_dir
    assert set(registry.get(f"{plan.run}-dpo").datasets) == {"instruction", "preference"}
    assert registry.get(f"{plan.run}-sft").metrics["sft_steps"] == 3


@pytest.mark.parametrize("full_parameters", [False, True])
def test_the_voice_stage_learns_the_training_text_and_sft_starts_from_it(
    tiny_model_dir: Path, tmp_path: Path, full_parameters: bool
) -> None:
    import json

    save_training_datasets(tmp_path / "datasets")
    config = _config(
        tiny_model_dir,
        voice__enabled=True,
        voice__full_parameters=full_parameters,
        voice__max_length=64,
        dpo__enabled=False,
    )
    plan, results, versions = train_twin(
        config, models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets"
    )
    voice, sft = results
    assert voice.stage == "voice" and voice.steps == 3 and voice.loss_last < voice.loss_first
    assert (voice.merged / "config.json").is_file()
    assert (voice.adapter == voice.merged) is full_parameters  # all weights: no adapter to merge
    adapter_config = json.loads((sft.adapter / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(voice.merged)  # SFT starts from the voice model
    assert [v.stage for v in versions] == ["sft"]  # the voice stage is no version of the twin


class _Interrupt(TrainerCallback):
    """Kill the run after step 3 (checkpoint-2 is on disk), as a crash would."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 3:
            raise KeyboardInterrupt("simulated kill")


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets")
    config = _config(tiny_model_dir, sft__max_steps=4, dpo__enabled=False)
    with pytest.raises(KeyboardInterrupt):
        train_twin(
            config,
            models_dir=tmp_path / "models",
            datasets_root=tmp_path / "datasets",
            callbacks=[_Interrupt()],
        )
    [run_dir] = (tmp_path / "models" / "runs").iterdir()
    assert sorted(p.name for p in (run_dir / "sft" / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2"]
    plan, [sft], _ = train_twin(config, models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets")
    assert plan.run_dir == run_dir  # the same config and data find the same run folder
    assert sft.resumed_from == "checkpoint-2"
    assert sft.steps == 4
    assert [step for step, _ in sft.losses] == [1, 2, 3, 4]  # history of the first session kept
    # A finished stage is reused, not trained again; a changed config is a new run.
    _, [again], _ = train_twin(config, models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets")
    assert again.reused and not sft.reused and again.model_copy(update={"reused": False}) == sft
    assert again.summary().startswith("sft: complete in an earlier run, reused: 4 steps")
    other, _, _ = train_twin(
        _config(tiny_model_dir, sft__max_steps=1, dpo__enabled=False),
        models_dir=tmp_path / "models",
        datasets_root=tmp_path / "datasets",
    )
    assert other.run_dir != run_dir


def test_self_play_has_the_sft_twin_write_rejected_answers(tiny_model_dir: Path, tmp_path: Path) -> None:
    from datasets import load_from_disk

    _, preference = save_training_datasets(tmp_path / "datasets")
    config = _config(
        tiny_model_dir,
        self_play=True,
        self_play_max_tokens=8,
        sft__max_steps=1,
        dpo__max_steps=1,
        dpo__max_train_samples=3,
    )
    plan, _, versions = train_twin(
        config, models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets"
    )
    [regenerated] = [p for p in (plan.run_dir / "datasets" / "preference").iterdir() if p.is_dir()]
    rows = load_from_disk(str(regenerated))["train"]
    original = load_from_disk(str(preference))["train"]
    assert len(rows) == 3
    assert rows["chosen"] == original["chosen"][:3]  # the author's text stays chosen
    assert all(r != "It depends. There are many factors." for r in rows["rejected"])
    assert versions[-1].datasets["preference"] == str(regenerated)  # checked by the evaluation
    assert (tmp_path / "datasets" / "preference" / "LATEST").read_text().strip() == preference.name


def test_packaged_smollm2_trains_a_few_steps_and_reloads(smollm2_dir: Path, tmp_path: Path) -> None:
    save_training_datasets(tmp_path / "datasets", rows=6)
    config = _config(
        smollm2_dir,
        sft__max_steps=2,
        dpo__max_steps=2,
        sft__learning_rate=2e-4,
        dpo__learning_rate=5e-5,
        output={"merged_dtype": "bfloat16"},
    )
    _, [sft, dpo], _ = train_twin(config, models_dir=tmp_path / "models", datasets_root=tmp_path / "datasets")
    assert len(sft.losses) == 2 and len(dpo.losses) == 2
    assert _lora_b_norm(dpo.adapter) > 0
    model, tokenizer = load_causal_lm(dpo.merged)
    assert str(model.dtype) == "torch.bfloat16"
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    [answer] = generate_answers(
        model, tokenizer, [build_messages("Name three colours.", author="Ada Lovelace")], max_new_tokens=24
    )
    assert len(answer.text.split()) >= 2  # still a working language model after merging


def test_on_the_cpu_the_lm_head_scores_only_labelled_positions_with_the_same_loss_and_gradients(
    tiny_model_dir: Path,
) -> None:
    import torch
    import trl.trainer.utils as trl_utils
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from llm_engineering.model.training.trainer import lm_head_on_labelled_positions

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0))
    for name, weight in model.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero: give the adapter gradients everywhere
            torch.nn.init.normal_(weight, std=0.05, generator=torch.Generator().manual_seed(0))
    ids = torch.randint(3, model.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(1))
    attention = torch.ones_like(ids)
    attention[1, 34:] = 0  # right padding
    labels = ids.clone()
    labels[0, :25] = -100  # the prompt
    labels[1, :18] = -100
    labels[1, 34:] = -100
    projected_rows = []
    chunked = trl_utils._ChunkedLogProbFunction

    class Spy(chunked):
        @staticmethod
        def forward(ctx, hidden, *rest):
            projected_rows.append(hidden.shape[0])
            return chunked.forward(ctx, hidden, *rest)

    def loss_and_gradients():
        out = model(input_ids=ids, attention_mask=attention, labels=labels, fused_lm_head=True)
        out.loss.backward()
        grads = [w.grad.clone() for w in model.parameters() if w.requires_grad]
        model.zero_grad()
        return out.loss.detach(), out.entropy.detach(), grads

    trl_utils._ChunkedLogProbFunction = Spy
    try:
        every_loss, every_entropy, every_grads = loss_and_gradients()
        with lm_head_on_labelled_positions("cpu"):
            labelled_loss, labelled_entropy, labelled_grads = loss_and_gradients()
        after_loss, _, _ = loss_and_gradients()
    finally:
        trl_utils._ChunkedLogProbFunction = chunked

    scored = int((labels[:, 1:] != -100).sum())
    # every shifted position, then the labelled ones only, then every one again
    assert projected_rows == [2 * 39, scored, 2 * 39]
    assert torch.equal(labelled_loss, every_loss) and torch.equal(after_loss, every_loss)
    assert torch.equal(labelled_entropy, every_entropy)
    assert all(torch.equal(a, b) for a, b in zip(labelled_grads, every_grads, strict=True))
    assert any(bool(g.abs().sum()) for g in labelled_grads)
