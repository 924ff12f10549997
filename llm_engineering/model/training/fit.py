"""Training rows in the served prompt, fitted to ``max_length``: cut where a sentence ends, so
every answer ends its turn.

Both stages use TRL's conversational formats, built with :func:`chat.build_messages` with each
row's retrieved passages (the dataset's ``context`` column), so every sample carries the twin's
system prompt and the prompt serving builds:

- SFT, prompt/completion: ``{"prompt": [system, user], "completion": [assistant]}`` (the loss
  covers the completion only);
- DPO, preference: ``{"prompt": [system, user], "chosen": [assistant], "rejected": [assistant]}``.


TRL truncates a tokenized row that is too long at its end: the answer then loses its
``<|im_end|>`` and the twin never learns to stop. Here a row is fitted before TRL sees it, to
``max_length`` tokens in all and at most ``max_answer_tokens`` for the answer (an answer budget
under the served token limit, so the twin learns answers that end well before it):

1. passages of its prompt are dropped, the lowest-ranked first, while the prompt alone leaves
   less than ``min_answer_tokens`` for the answer (serving drops them the same way);
2. the answer (each of ``chosen`` and ``rejected`` for DPO) is cut to its longest prefix of
   whole paragraphs, then whole sentences, whose rendered row and answer fit; the end-of-turn token
   follows it as in any other row;
3. an answer whose first sentence alone does not fit is cut after whole words; a row whose
   prompt leaves no room for one word is dropped (counted).

The rendering is the chat template's own (:func:`chat.render_prompt`), so the token counts are
those TRL will see. :class:`FitReport` counts the cut and dropped rows; the stage logs the
share cut.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from llm_engineering.domain.chat import build_messages, fit_context, render_prompt

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])[\"')\]]*\s+")


class FitReport(BaseModel):
    """How many rows fitting changed."""

    rows: int = 0
    cut: int = 0
    """Rows whose answer (or chosen/rejected) was cut at a sentence boundary."""
    passages_dropped: int = 0
    """Rows that lost passages so the answer had room."""
    dropped: int = 0
    """Rows left out: the prompt leaves no room for one word of the answer."""

    @property
    def cut_share(self) -> float:
        """Share of rows cut (dropped ones included)."""
        return (self.cut + self.dropped) / self.rows if self.rows else 0.0

    def figures(self) -> dict[str, float]:
        """Flat figures for metadata."""
        return {
            "rows_cut": float(self.cut),
            "rows_dropped": float(self.dropped),
            "rows_passages_dropped": float(self.passages_dropped),
            "cut_share": round(self.cut_share, 4),
        }


def answer_prefixes(answer: str) -> list[str]:
    """Every prefix of ``answer`` that ends at a paragraph or sentence end, shortest first, the
    whole answer last."""
    prefixes: list[str] = []
    paragraphs = _PARAGRAPH.split(answer.strip())
    for index, paragraph in enumerate(paragraphs):
        head = "\n\n".join(paragraphs[:index])
        sentences = [m.end() for m in _SENTENCE_END.finditer(paragraph)]
        for end in [*sentences, len(paragraph)]:
            piece = paragraph[:end].rstrip()
            if piece:
                prefixes.append(f"{head}\n\n{piece}" if head else piece)
    return list(dict.fromkeys(prefixes))


class RowFitter:
    """Fits conversational rows (``prompt`` + ``completion``, or ``chosen`` and ``rejected``) to
    ``max_length`` tokens.

    Args:
        tokenizer: the model's tokenizer (with the twin's chat template).
        max_length: the stage's ``max_length``.
        max_answer_tokens: the longest answer in tokens; None: only ``max_length`` bounds it.
        min_answer_tokens: room the prompt must leave for the answer before passages are dropped.
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        max_length: int,
        max_answer_tokens: int | None = None,
        min_answer_tokens: int = 96,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_answer_tokens = max_answer_tokens
        self.min_answer_tokens = min_answer_tokens
        if max_answer_tokens is not None:
            self.min_answer_tokens = min(min_answer_tokens, max_answer_tokens)

    def _tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _row_tokens(self, prompt: list[dict[str, str]], answer: str) -> int:
        messages = [*prompt, {"role": "assistant", "content": answer}]
        return self._tokens(render_prompt(self.tokenizer, messages, add_generation_prompt=False))

    def _prompt_tokens(self, prompt: list[dict[str, str]]) -> int:
        return self._tokens(render_prompt(self.tokenizer, prompt))

    def _fits(self, prompt: list[dict[str, str]], answer: str) -> bool:
        if self.max_answer_tokens is not None and self._tokens(answer) > self.max_answer_tokens:
            return False
        return self._row_tokens(prompt, answer) <= self.max_length

    def fit_prompt(
        self, instruction: str, *, author: str | None, context: list[str]
    ) -> tuple[list[dict[str, str]], bool]:
        """The prompt, with passages dropped (lowest-ranked first) until the answer has room; whether any were."""
        for keep in range(len(context), -1, -1):
            prompt = build_messages(instruction, author=author, context=context[:keep])
            if keep == 0 or self._prompt_tokens(prompt) + self.min_answer_tokens <= self.max_length:
                return prompt, keep < len(context)
        raise AssertionError("unreachable: keep == 0 always returns")

    def fit_answer(self, prompt: list[dict[str, str]], answer: str) -> tuple[str | None, bool]:
        """The longest prefix of ``answer`` at a paragraph or sentence end whose row fits, whether it
        was cut; None when not even the first sentence fits."""
        if self._fits(prompt, answer):
            return answer, False
        best = self._longest_fitting(prompt, answer_prefixes(answer))
        if best is None:  # not one sentence fits: whole words, still closed by the end of the turn
            words = answer.split()
            best = self._longest_fitting(prompt, [" ".join(words[:n]) for n in range(1, len(words) + 1)])
        return best, True

    def _longest_fitting(self, prompt: list[dict[str, str]], prefixes: list[str]) -> str | None:
        low, high, best = 0, len(prefixes) - 1, None
        while low <= high:  # binary search: token counts grow with the prefix
            middle = (low + high) // 2
            if self._fits(prompt, prefixes[middle]):
                best, low = prefixes[middle], middle + 1
            else:
                high = middle - 1
        return best


def _context(row: dict[str, Any]) -> list[str]:
    return fit_context(row.get("context") or [])


def first_rows(dataset: Any, limit: int | None) -> Any:
    """The first ``limit`` rows of ``dataset`` (all when None)."""
    return dataset if limit is None else dataset.select(range(min(limit, len(dataset))))


def _fit_rows(
    dataset: Any, *, question: str, answers: tuple[str, ...], author: str | None, fitter: RowFitter
) -> tuple[list[tuple[list[dict[str, str]], list[str]]], FitReport]:
    """Each row's fitted prompt (from column ``question`` and the row's passages) and fitted
    ``answers`` columns; rows where an answer does not fit at all are counted as dropped."""
    report = FitReport(rows=len(dataset))
    fitted: list[tuple[list[dict[str, str]], list[str]]] = []
    for row in dataset:
        prompt, dropped_passages = fitter.fit_prompt(row[question], author=author, context=_context(row))
        results = [fitter.fit_answer(prompt, row[column]) for column in answers]
        report.passages_dropped += dropped_passages
        texts = [text for text, _ in results if text is not None]
        if len(texts) < len(answers):
            report.dropped += 1
            continue
        report.cut += any(cut for _, cut in results)
        fitted.append((prompt, texts))
    return fitted, report


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def sft_rows(dataset: Any, *, author: str | None, fitter: RowFitter) -> tuple[Any, FitReport]:
    """Instruction rows -> TRL conversational prompt/completion rows (with each row's passages),
    fitted by ``fitter`` (rules in the module docstring)."""
    fitted, report = _fit_rows(
        dataset, question="instruction", answers=("output",), author=author, fitter=fitter
    )
    rows = [{"prompt": prompt, "completion": _assistant(answer)} for prompt, [answer] in fitted]
    return _dataset(rows, ("prompt", "completion")), report


def dpo_rows(dataset: Any, *, author: str | None, fitter: RowFitter) -> tuple[Any, FitReport]:
    """Preference rows -> TRL conversational preference rows (with each row's passages), fitted by
    ``fitter``: ``chosen`` and ``rejected`` each cut to fit."""
    fitted, report = _fit_rows(
        dataset, question="prompt", answers=("chosen", "rejected"), author=author, fitter=fitter
    )
    rows = [
        {"prompt": prompt, "chosen": _assistant(chosen), "rejected": _assistant(rejected)}
        for prompt, [chosen, rejected] in fitted
    ]
    return _dataset(rows, ("prompt", "chosen", "rejected")), report


def voice_rows(dataset: Any, *, limit: int | None = None) -> Any:
    """The voice stage's language-modelling rows: ``{"text"}``, one per distinct answer of the
    training split (each an extract of the author's cleaned documents, verbatim), in a fixed order.

    Only the training split is read, so no held-out document is learnt.
    """
    texts = sorted({str(text).strip() for text in dataset["output"] if str(text).strip()})
    if limit is not None:
        texts = texts[:limit]
    return _dataset([{"text": text} for text in texts], ("text",))


def _dataset(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Any:
    from datasets import Dataset

    if rows:
        return Dataset.from_list(rows)
    return Dataset.from_dict({column: [] for column in columns})
