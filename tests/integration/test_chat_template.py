"""One chat template: SFT's and DPO's tokenized training prompts, evaluation's and serving's
prompt path (chat.render_prompt) all read the same text for the same conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from llm_engineering.configs.training import DPOSettings, SFTSettings
from llm_engineering.model.chat import build_messages, render_prompt
from llm_engineering.model.training.data import dpo_rows, sft_rows
from llm_engineering.model.training.trainer import _trl_args, load_tokenizer

pytestmark = pytest.mark.integration

AUTHOR = "Ada Lovelace"
QUESTION = "How should I version my datasets?"
ANSWER = "Version them like code: one folder per build, a content hash in its name."


@pytest.mark.parametrize("model", ["tiny_model_dir", "smollm2_dir"])
def test_sft_dpo_evaluation_and_serving_read_the_same_prompt(model: str, request, tmp_path: Path) -> None:
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import DPOTrainer, SFTTrainer

    folder = request.getfixturevalue(model)
    tokenizer = load_tokenizer(folder)
    served = render_prompt(tokenizer, build_messages(QUESTION, author=AUTHOR))  # evaluation and serving
    assert served.count(AUTHOR) == 2 and "SmolLM" not in served  # the twin's system prompt, not the default

    base = AutoModelForCausalLM.from_pretrained(str(folder))
    peft = LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM")
    sft = SFTTrainer(
        base,
        args=_trl_args(
            "sft", SFTSettings(packing=False), output_dir=tmp_path / "sft", device="cpu", bf16=False
        ),
        train_dataset=sft_rows(
            Dataset.from_dict({"instruction": [QUESTION], "output": [ANSWER]}), author=AUTHOR
        ),
        processing_class=tokenizer,
        peft_config=peft,
    )
    row = sft.train_dataset[0]
    prompt_ids = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label == -100]
    completion_ids = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100]
    assert tokenizer.decode(prompt_ids) == served
    assert tokenizer.decode(completion_ids).startswith(ANSWER)  # the loss covers the answer, not the prompt

    dpo = DPOTrainer(
        AutoModelForCausalLM.from_pretrained(str(folder)),
        args=_trl_args("dpo", DPOSettings(), output_dir=tmp_path / "dpo", device="cpu", bf16=False),
        train_dataset=dpo_rows(
            Dataset.from_dict({"prompt": [QUESTION], "chosen": [ANSWER], "rejected": ["It depends."]}),
            author=AUTHOR,
        ),
        processing_class=tokenizer,
        peft_config=peft,
    )
    assert tokenizer.decode(dpo.train_dataset[0]["prompt_ids"]) == served
    assert tokenizer.decode(dpo.train_dataset[0]["chosen_ids"]).startswith(ANSWER)
