"""One chat template: SFT's and DPO's tokenized training prompts, evaluation's and serving's
prompt path (chat.render_prompt) all read the same text for the same conversation."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from llm_engineering.configs.training import DPOStageConfig, SFTStageConfig
from llm_engineering.domain.chat import build_messages, render_prompt
from llm_engineering.model.training.fit import RowFitter, dpo_rows, sft_rows
from llm_engineering.model.training.trainer import _trl_args, load_tokenizer

pytestmark = pytest.mark.integration

AUTHOR = "Ada Lovelace"
QUESTION = "How should I version my datasets?"
ANSWER = "Version them like code: one folder per build, a content hash in its name."
PASSAGES = ["I keep every dataset build in its own folder.", "A content hash names each version."]


@pytest.mark.parametrize("model", ["tiny_model_dir", "smollm2_dir"])
def test_sft_dpo_evaluation_and_serving_read_the_same_prompt(model: str, request, tmp_path: Path) -> None:
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import DPOTrainer, SFTTrainer

    folder = request.getfixturevalue(model)
    tokenizer = load_tokenizer(folder)
    served = render_prompt(tokenizer, build_messages(QUESTION, author=AUTHOR, context=PASSAGES))
    assert served.count(AUTHOR) == 3 and "SmolLM" not in served  # the twin's system prompt, not the default
    assert all(p in served for p in PASSAGES)

    base = AutoModelForCausalLM.from_pretrained(str(folder))
    peft = LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM")
    sft = SFTTrainer(
        base,
        args=_trl_args(
            "sft",
            SFTStageConfig(packing=False, max_length=1024),
            output_dir=tmp_path / "sft",
            device="cpu",
            bf16=False,
        ),
        train_dataset=sft_rows(
            Dataset.from_dict({"instruction": [QUESTION], "output": [ANSWER], "context": [PASSAGES]}),
            author=AUTHOR,
            fitter=RowFitter(tokenizer, max_length=1024),
        )[0],
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
        args=_trl_args(
            "dpo", DPOStageConfig(max_length=1024), output_dir=tmp_path / "dpo", device="cpu", bf16=False
        ),
        train_dataset=dpo_rows(
            Dataset.from_dict(
                {"prompt": [QUESTION], "chosen": [ANSWER], "rejected": ["It depends."], "context": [PASSAGES]}
            ),
            author=AUTHOR,
            fitter=RowFitter(tokenizer, max_length=1024),
        )[0],
        processing_class=tokenizer,
        peft_config=peft,
    )
    assert tokenizer.decode(dpo.train_dataset[0]["prompt_ids"]) == served
    assert tokenizer.decode(dpo.train_dataset[0]["chosen_ids"]).startswith(ANSWER)


def test_a_row_cut_to_max_length_ends_with_the_end_of_turn_token(smollm2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    tokenizer = load_tokenizer(smollm2_dir)
    sentences = [f"Sentence number {i} of a long answer about versioned datasets." for i in range(60)]
    long_answer = " ".join(sentences[:30]) + "\n\n" + " ".join(sentences[30:])
    rows, report = sft_rows(
        Dataset.from_dict(
            {"instruction": [QUESTION, QUESTION], "output": [long_answer, ANSWER], "context": [PASSAGES, []]}
        ),
        author=AUTHOR,
        fitter=RowFitter(tokenizer, max_length=256),
    )
    assert (report.rows, report.cut, report.dropped) == (2, 1, 0) and report.cut_share == 0.5
    cut = rows[0]["completion"][0]["content"]
    assert long_answer.startswith(cut) and cut.endswith("datasets.")  # at a sentence end
    assert len(cut) < len(long_answer)
    sft = SFTTrainer(
        AutoModelForCausalLM.from_pretrained(str(smollm2_dir)),
        args=_trl_args(
            "sft", SFTStageConfig(max_length=256), output_dir=tmp_path / "sft", device="cpu", bf16=False
        ),
        train_dataset=rows,
        processing_class=tokenizer,
    )
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    for row in sft.train_dataset:
        ids = row["input_ids"]
        assert len(ids) <= 256
        trained = [t for t, label in zip(ids, row["labels"], strict=True) if label != -100]
        assert end_of_turn in trained[-2:]  # the answer's turn ends inside the trained tokens


def test_the_answer_budget_cuts_an_answer_that_fits_max_length_at_a_sentence_end(smollm2_dir: Path) -> None:
    tokenizer = load_tokenizer(smollm2_dir)
    answer = " ".join(f"Point {i} is about rerunning a pipeline safely." for i in range(12))
    dataset = Dataset.from_dict({"instruction": [QUESTION], "output": [answer], "context": [[]]})
    whole, whole_report = sft_rows(dataset, author=AUTHOR, fitter=RowFitter(tokenizer, max_length=1024))
    assert whole[0]["completion"][0]["content"] == answer and whole_report.cut == 0
    rows, report = sft_rows(
        dataset, author=AUTHOR, fitter=RowFitter(tokenizer, max_length=1024, max_answer_tokens=40)
    )
    cut = rows[0]["completion"][0]["content"]
    assert report.cut == 1 and answer.startswith(cut) and cut.endswith("safely.")
    assert (
        len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 40 < len(tokenizer(answer)["input_ids"])
    )
    assert SFTStageConfig().max_answer_tokens == 160  # the default budget, under evaluation's 256-token limit
