"""The twin's one chat template and system prompt, shared by SFT, DPO, evaluation and serving.

Every stage builds its conversation with :func:`build_messages` and renders it with
:func:`render_prompt`, so the text the model was trained on is the text it is asked with.
The template is the base model's own when it has one (SmolLM2 and Llama ship ChatML-like
templates); a model without one gets :data:`CHATML_TEMPLATE`, which is then saved with
the trained twin. The system prompt always names the author, which also keeps SmolLM2's
template from inserting its default "SmolLM" system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""ChatML, the format of SmolLM2-Instruct, for base models that ship no chat template."""

SYSTEM_PROMPT = (
    "You are the writing twin of {author}. Answer as {author} would write it: in their voice, "
    "with their opinions, vocabulary and level of detail."
)
CONTEXT_PROMPT = "Use these passages from {author}'s own writing where they help:\n\n{context}\n\n"


def system_prompt(author: str | None) -> str:
    """The twin's system prompt; without an author, a neutral one (never the base model's default)."""
    return SYSTEM_PROMPT.format(author=" ".join(author.split()) if author else "the author")


def build_messages(
    instruction: str,
    *,
    author: str | None,
    context: Sequence[str] = (),
    history: Sequence[dict[str, str]] = (),
) -> list[dict[str, str]]:
    """The conversation the twin sees: its system prompt, earlier turns, then the instruction.

    Args:
        instruction: the user's question or instruction.
        author: whose twin answers (named in the system prompt).
        context: retrieved passages, put before the instruction (serving only; training has none).
        history: earlier ``{"role", "content"}`` turns of the conversation, oldest first.
    """
    user = instruction
    if context:
        joined = "\n\n".join(f"[{i}] {passage}" for i, passage in enumerate(context, start=1))
        user = CONTEXT_PROMPT.format(author=author or "the author", context=joined) + instruction
    return [
        {"role": "system", "content": system_prompt(author)},
        *({"role": m["role"], "content": m["content"]} for m in history),
        {"role": "user", "content": user},
    ]


def ensure_chat_template(tokenizer: Any) -> Any:
    """Give ``tokenizer`` the ChatML template when it has none, and a pad token; returns it."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def render_prompt(
    tokenizer: Any, messages: Sequence[dict[str, str]], *, add_generation_prompt: bool = True
) -> str:
    """The exact text the model reads for ``messages`` (the template's own special tokens included)."""
    ensure_chat_template(tokenizer)
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
