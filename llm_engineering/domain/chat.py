"""The twin's one chat template and system prompt, shared by SFT, DPO, evaluation and serving.

Every stage builds its conversation with :func:`build_messages` and renders it with
:func:`render_prompt`, so the text the model was trained on is the text it is asked with.
The template is the base model's own when it has one (SmolLM2 and Llama ship ChatML-like
templates); a model without one gets :data:`CHATML_TEMPLATE`, which is then saved with
the trained twin. The system prompt always names the author, which also keeps SmolLM2's
template from inserting its default "SmolLM" system prompt.

It sits in the domain because dataset generation (the context budget), the configs, training,
evaluation and serving all read it; it imports nothing and does no I/O (the tokenizer is handed in).
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

CONTEXT_PASSAGES = 3
"""The context budget, part 1: most retrieved passages in one prompt (serving retrieves this many).

Training (SFT and DPO rows), evaluation and serving all build their prompts with
:func:`build_messages`, which enforces the budget, so the twin is asked in the form it learnt."""
PASSAGE_WORDS = 50
"""The context budget, part 2: most words of one passage. 3 x 50 words is ~200 tokens of the
SmolLM2 tokenizer: with the system prompt (~55) and an answer of ~180 tokens a row fits SFT's
``max_length`` of 512, which keeps a CPU epoch affordable."""


def system_prompt(author: str | None) -> str:
    """The twin's system prompt; without an author, a neutral one (never the base model's default)."""
    return SYSTEM_PROMPT.format(author=" ".join(author.split()) if author else "the author")


def clip_passage(passage: str, *, words: int = PASSAGE_WORDS) -> str:
    """``passage`` with its whitespace folded, cut to at most ``words`` words.

    The cut ends at the last sentence end within the budget when one falls in its second half
    (a whole sentence reads better than half of one); otherwise at the word limit, marked "…".
    """
    tokens = passage.split()
    if len(tokens) <= words:
        return " ".join(tokens)
    kept = tokens[:words]
    for end in range(len(kept) - 1, words // 2 - 1, -1):
        if kept[end].endswith((".", "!", "?", '."', ".)")):
            return " ".join(kept[: end + 1])
    return " ".join(kept) + " …"


def fit_context(passages: Sequence[str]) -> list[str]:
    """The passages a prompt carries: the first :data:`CONTEXT_PASSAGES` non-blank ones (callers
    pass them best first), each clipped to :data:`PASSAGE_WORDS` words."""
    clipped = [clip_passage(p) for p in passages if p and p.strip()]
    return clipped[:CONTEXT_PASSAGES]


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
        context: retrieved passages, best first, put before the instruction; the context budget
            applies (:func:`fit_context`: at most :data:`CONTEXT_PASSAGES` passages of at most
            :data:`PASSAGE_WORDS` words), in training, evaluation and serving alike.
        history: earlier ``{"role", "content"}`` turns of the conversation, oldest first.
    """
    user = instruction
    context = fit_context(context)
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
