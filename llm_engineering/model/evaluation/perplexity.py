"""Author perplexity: how likely a model finds the author's own reference answers.

For each test sample the model reads the prompt exactly as it is asked at answer time (the
twin's system prompt and the instruction, rendered with the shared chat template) followed
by the author's reference answer, and the negative log-likelihood of each reference token
given everything before it is summed. The figure is ``exp(total NLL / reference tokens)``:
the perplexity of the author's text under the model, pooled over all samples. Lower means
the model would more readily have written what the author wrote. All versions share the
base model's tokenizer, so their figures are comparable; figures from different tokenizers
are not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PerplexityResult:
    """Pooled perplexity and its ingredients.

    Attributes:
        perplexity: exp of the mean token NLL over all reference tokens.
        mean_nll: mean token NLL (nats).
        tokens: reference tokens scored.
        per_sample_nll: mean token NLL of each sample's reference.
        per_sample_tokens: reference tokens scored of each sample (for bootstrap intervals).
    """

    perplexity: float
    mean_nll: float
    tokens: int
    per_sample_nll: list[float]
    per_sample_tokens: list[int]


def reference_nll(
    model: Any,
    tokenizer: Any,
    *,
    prompts: Sequence[str],
    references: Sequence[str],
    max_reference_tokens: int = 256,
    batch_size: int = 4,
) -> PerplexityResult:
    """Token NLL of each reference given its rendered prompt (see the module docstring).

    Args:
        model: a causal LM (``model(input_ids, attention_mask).logits``).
        tokenizer: its tokenizer.
        prompts: rendered prompts (chat template applied, generation prompt included).
        references: the author's answers, aligned with ``prompts``.
        max_reference_tokens: references are cut to this many tokens.
        batch_size: sequences per forward pass (right-padded).

    Raises:
        ValueError: the lists differ in length, or no reference has a token.
    """
    import torch

    if len(prompts) != len(references):
        raise ValueError(f"need as many prompts as references ({len(prompts)} vs {len(references)})")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = []
    for prompt, reference in zip(prompts, references, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(reference, add_special_tokens=False)["input_ids"][:max_reference_tokens]
        encoded.append((prompt_ids, answer_ids))
    device = next(model.parameters()).device
    per_sample: list[float] = []
    per_sample_tokens: list[int] = []
    total_nll, total_tokens = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            length = max(len(p) + len(a) for p, a in batch)
            ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), length), dtype=torch.long)
            labels = torch.full((len(batch), length), -100, dtype=torch.long)
            for row, (prompt_ids, answer_ids) in enumerate(batch):
                sequence = prompt_ids + answer_ids
                ids[row, : len(sequence)] = torch.tensor(sequence)
                mask[row, : len(sequence)] = 1
                if answer_ids:
                    labels[row, len(prompt_ids) : len(sequence)] = torch.tensor(answer_ids)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            shifted = logits[:, :-1, :]
            targets = labels[:, 1:].to(device)
            nll = torch.nn.functional.cross_entropy(
                shifted.reshape(-1, shifted.size(-1)),
                targets.reshape(-1),
                ignore_index=-100,
                reduction="none",
            ).view(targets.shape)
            counted = (targets != -100).sum(dim=1)
            sums = nll.sum(dim=1)
            for row in range(len(batch)):
                tokens = int(counted[row])
                per_sample.append(float(sums[row]) / tokens if tokens else float("nan"))
                per_sample_tokens.append(tokens)
                total_nll += float(sums[row])
                total_tokens += tokens
    if not total_tokens:
        raise ValueError("no reference tokens to score")
    mean = total_nll / total_tokens
    return PerplexityResult(
        perplexity=math.exp(mean),
        mean_nll=mean,
        tokens=total_tokens,
        per_sample_nll=per_sample,
        per_sample_tokens=per_sample_tokens,
    )
