"""A tiny randomly initialised causal LM with a ChatML tokenizer, built locally in a second.

Tests of training, evaluation and serving use it where the real base model
would be slow: it has the same chat template and special tokens as SmolLM2 (``<|im_start|>``,
``<|im_end|>`` as eos and pad), a byte-level BPE vocabulary learned from the given texts (any
text encodes), and a two-layer Llama architecture.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llm_engineering.domain.chat import CHATML_TEMPLATE

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_DEFAULT_TEXTS = (
    "You are the writing twin of the author. Answer as the author would write it.",
    "Write a paragraph about feature stores, vector databases and fine-tuning language models.",
    "The system prompt names the author; the user asks; the assistant answers in their voice.",
)


def build_tiny_tokenizer(texts: Iterable[str] = (), *, vocab_size: int = 512):
    """A byte-level BPE tokenizer with ChatML special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator([*_DEFAULT_TEXTS, *texts], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_causal_lm(
    folder: str | Path,
    *,
    texts: Iterable[str] = (),
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Save a tiny Llama model and its tokenizer into ``folder`` (fp32); returns the folder."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer(texts)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Zero rows for special and whitespace-only tokens: their logits stay 0 while some other token's
    # is higher, so greedy decoding writes visible text (an untrained model otherwise often repeats
    # a newline or <|im_start|>, which decode to nothing once stripped).
    invisible = [
        i for i in range(len(tokenizer)) if not tokenizer.decode([i], skip_special_tokens=True).strip()
    ]
    with torch.no_grad():
        model.get_input_embeddings().weight[invisible] = 0
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
