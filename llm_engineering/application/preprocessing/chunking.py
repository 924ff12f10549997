"""Chunking sized in the embedding model's own tokens.

Rules (each is a unit test):

- **Bound**: every chunk is at most ``chunk_size`` tokens of the model's tokenizer *with* the
  special tokens it adds (``[CLS]``/``[SEP]``), and never more than the model's maximum
  sequence length, so the model never truncates a chunk. The bound is checked by
  re-tokenising every chunk, not estimated.
- **Nothing dropped**: chunks are spans of the cleaned text, in order; together they cover
  every character of it but blank space at chunk edges. A document that fits in one chunk is
  one chunk, however short.
- **Structure first**: blocks come from the one Markdown parser
  (:mod:`~llm_engineering.application.preprocessing.markdown`); the text is cut at paragraph
  breaks (blank lines), then at line breaks, then at sentence ends (a sentence keeps its
  closing quotes and brackets); a chunk at least half full ends at a paragraph break rather
  than taking the first sentences of a paragraph that does not fit. Code blocks (fenced or
  indented) stay whole when they fit and are cut only at line breaks otherwise, table rows
  are never cut at a full stop; with ``code=True`` (repositories) every block is treated as
  code. Only a single sentence or line longer than a chunk is cut between tokens (at a word
  start when one is near).
- **Overlap**: a chunk starts with the last whole sentences (or lines) of the previous one
  that fit in ``chunk_overlap`` tokens; when even the last one is longer, with its last
  ``chunk_overlap`` tokens, starting at a word.
- **Ids**: deterministic from the document id, the chunk's position and its text
  (:func:`~llm_engineering.application.preprocessing.ids.chunk_id`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from llm_engineering.application.preprocessing.ids import chunk_id
from llm_engineering.application.preprocessing.markdown import (
    BlockKind,
    group_blocks,
    line_spans,
    parse_blocks,
    sentence_spans,
)
from llm_engineering.domain.cleaned_documents import Chunk, CleanedDocument
from llm_engineering.domain.types import DataCategory

RULES_VERSION = "1"  # bump when the rules change: every document is re-chunked and re-embedded once


RULES_VERSION = "2"
# bump when the rules change: features are re-cleaned / re-chunked once


class Tokenizer(Protocol):
    """What chunking needs from the embedding model's tokenizer."""

    @property
    def max_length(self) -> int:
        """The model's maximum sequence length, special tokens included."""
        ...

    @property
    def special_tokens(self) -> int:
        """Special tokens the model adds to every sequence (2 for BERT: ``[CLS]`` and ``[SEP]``)."""
        ...

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens excluded, without truncation."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of ``text`` (special tokens excluded)."""
        ...


@dataclass(frozen=True)
class TextChunk:
    """A chunk of a text: its span, its text and its length in tokens (special tokens included)."""

    start: int
    end: int
    text: str
    token_count: int


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int
    block: int  # index of the paragraph group (or code block) it belongs to


def _is_word_start(text: str, position: int) -> bool:
    return position == 0 or text[position - 1].isspace()


def _token_windows(
    text: str, start: int, end: int, *, tokenizer: Tokenizer, budget: int
) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into contiguous spans of at most ``budget`` tokens, at word starts when near."""
    offsets = tokenizer.offsets(text[start:end])
    if not offsets:
        return [(start, end)]
    spans = []
    i = 0
    while i < len(offsets):
        j = min(i + budget, len(offsets))
        if j < len(offsets):
            k = j
            while k > i + budget // 2 and not _is_word_start(text, start + offsets[k][0]):
                k -= 1
            if k > i + budget // 2:
                j = k
        span_start = start + (offsets[i][0] if i else 0)
        span_end = start + offsets[j][0] if j < len(offsets) else end
        spans.append((span_start, span_end))
        i = j
    return spans


def _pieces(text: str, *, tokenizer: Tokenizer, budget: int, overlap: int, code: bool) -> list[_Piece]:
    """The text cut into pieces of at most ``budget`` tokens, coarsest cut first.

    A sentence or line cut between tokens is cut into windows of ``budget - overlap`` tokens,
    so the next chunk has room for the overlap in front of the following window.
    """
    candidates: list[tuple[int, int, int, bool]] = []  # start, end, group, is_code
    for number, group in enumerate(group_blocks(parse_blocks(text))):
        if code:
            candidates.append((group[0].start, group[-1].end, number, True))
            continue
        for block in group:
            if block.is_code:
                candidates.append((block.start, block.end, number, True))
            elif block.kind == BlockKind.TABLE:  # a table row is never cut at its full stops
                candidates.extend((s, e, number, False) for s, e in line_spans(text, block.start, block.end))
            else:
                for line_start, line_end in line_spans(text, block.start, block.end):
                    candidates.extend(
                        (s, e, number, False) for s, e in sentence_spans(text, line_start, line_end)
                    )
    counts = tokenizer.count([text[s:e] for s, e, _, _ in candidates])
    pieces: list[_Piece] = []
    for (start, end, block, is_code), tokens in zip(candidates, counts, strict=True):
        if tokens <= budget:
            pieces.append(_Piece(start, end, tokens, block))
            continue
        spans = line_spans(text, start, end) if is_code else [(start, end)]
        line_counts = tokenizer.count([text[s:e] for s, e in spans]) if is_code else [tokens]
        for (s, e), n in zip(spans, line_counts, strict=True):
            if n <= budget:
                pieces.append(_Piece(s, e, n, block))
                continue
            windows = _token_windows(text, s, e, tokenizer=tokenizer, budget=budget - overlap)
            window_counts = tokenizer.count([text[ws:we] for ws, we in windows])
            pieces.extend(
                _Piece(ws, we, wn, block) for (ws, we), wn in zip(windows, window_counts, strict=True)
            )
    return pieces


def _overlap_start(
    text: str, chunk: list[_Piece], *, tokenizer: Tokenizer, overlap: int
) -> tuple[int, int, list[_Piece]]:
    """Where the next chunk starts to repeat the end of ``chunk``: ``(start, tokens, whole pieces)``."""
    if overlap <= 0 or not chunk:
        return -1, 0, []
    carried: list[_Piece] = []
    tokens = 0
    for piece in reversed(chunk[1:]):  # never carry the whole previous chunk
        if tokens + piece.tokens > overlap:
            break
        carried.insert(0, piece)
        tokens += piece.tokens
    if carried:
        return carried[0].start, tokens, carried
    last = chunk[-1]
    offsets = tokenizer.offsets(text[last.start : last.end])
    if len(offsets) <= overlap:
        return -1, 0, []
    k = len(offsets) - overlap
    while k < len(offsets) and not _is_word_start(text, last.start + offsets[k][0]):
        k += 1
    if k >= len(offsets):
        return -1, 0, []
    return last.start + offsets[k][0], len(offsets) - k, []


def chunk_text(
    text: str, *, tokenizer: Tokenizer, chunk_size: int, chunk_overlap: int, code: bool = False
) -> list[TextChunk]:
    """Cut ``text`` into chunks that fit the embedding model (see the module rules).

    Args:
        text: the cleaned text.
        tokenizer: the embedding model's tokenizer.
        chunk_size: most tokens per chunk, special tokens included; lowered to the model's
            maximum sequence length when above it.
        chunk_overlap: tokens of a chunk's end repeated at the next one's start.
        code: treat every block as code (cut at lines, never at sentences).

    Returns:
        The chunks in text order; empty when the text is blank.

    Raises:
        ValueError: if ``chunk_size`` leaves no room next to the special tokens.
    """
    if not text.strip():
        return []
    budget = min(chunk_size, tokenizer.max_length) - tokenizer.special_tokens
    if budget < 8:
        raise ValueError(f"chunk_size {chunk_size} leaves {budget} tokens for text; use at least 16")
    overlap = max(0, min(chunk_overlap, budget // 2))
    (total,) = tokenizer.count([text])
    if total <= budget:
        return [_chunk(text, 0, len(text), total + tokenizer.special_tokens)]

    pieces = _pieces(text, tokenizer=tokenizer, budget=budget, overlap=overlap, code=code)
    block_tokens: dict[int, int] = {}
    for piece in pieces:
        block_tokens[piece.block] = block_tokens.get(piece.block, 0) + piece.tokens

    spans: list[tuple[int, int]] = []
    current: list[_Piece] = []
    start, tokens = -1, 0
    for piece in pieces:
        starts_block = bool(current) and piece.block != current[-1].block
        fits = tokens + piece.tokens <= budget
        whole_block_fits = tokens + block_tokens[piece.block] <= budget
        if current and (not fits or (starts_block and not whole_block_fits and tokens * 2 >= budget)):
            spans.append((start, current[-1].end))
            start, tokens, current = _overlap_start(text, current, tokenizer=tokenizer, overlap=overlap)
            if tokens + piece.tokens > budget:  # the overlap would not leave room for this piece
                start, tokens, current = -1, 0, []
        if start < 0:
            start = piece.start
        current.append(piece)
        tokens += piece.tokens
    if current:
        spans.append((start, current[-1].end))
    return _enforce_bound(text, spans, tokenizer=tokenizer, budget=budget)


def _enforce_bound(
    text: str, spans: list[tuple[int, int]], *, tokenizer: Tokenizer, budget: int, margin: int = 2
) -> list[TextChunk]:
    """Re-tokenise every chunk; cut any that is over the budget (tokenizers are not always additive)."""
    counts = tokenizer.count([text[s:e] for s, e in spans])
    chunks: list[TextChunk] = []
    for (start, end), tokens in zip(spans, counts, strict=True):
        if tokens <= budget:
            chunks.append(_chunk(text, start, end, tokens + tokenizer.special_tokens))
            continue
        window = max(1, budget - margin)
        windows = _token_windows(text, start, end, tokenizer=tokenizer, budget=window)
        chunks.extend(_enforce_bound(text, windows, tokenizer=tokenizer, budget=budget, margin=margin * 4))
    return [chunk for chunk in chunks if chunk.text]


def _chunk(text: str, start: int, end: int, token_count: int) -> TextChunk:
    body = text[start:end]
    stripped_start = len(body) - len(body.lstrip("\n"))
    body = body.lstrip("\n").rstrip()
    return TextChunk(
        start=start + stripped_start,
        end=start + stripped_start + len(body),
        text=body,
        token_count=token_count,
    )


def chunk_document(
    document: CleanedDocument, *, tokenizer: Tokenizer, chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """The chunks of a cleaned document, with deterministic ids and the document's payload fields.

    Args:
        document: the cleaned document.
        tokenizer: the embedding model's tokenizer.
        chunk_size: most tokens per chunk, special tokens included.
        chunk_overlap: tokens repeated between neighbouring chunks.
    """
    pieces = chunk_text(
        document.content,
        tokenizer=tokenizer,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        code=document.category == DataCategory.REPOSITORIES,
    )
    return [
        Chunk(
            id=chunk_id(document.id, index, piece.text),
            document_id=document.id,
            index=index,
            category=document.category,
            title=document.title,
            content=piece.text,
            token_count=piece.token_count,
            platform=document.platform,
            author_id=document.author_id,
            author_full_name=document.author_full_name,
            link=document.link,
            source_hash=document.source_hash,
        )
        for index, piece in enumerate(pieces)
    ]
