"""Questions from an author's sentences: the wording shared by dataset generation and RAG suggestions.

:func:`first_sentence` finds the first prose sentence of a text, :func:`question_for` turns it
back into the question it answers (put to the author, in the second person), and
:func:`fragment_reason` recognises instructions that are loose key words rather than a question
naming a topic. The offline instruction writer (``datasets/offline.py``), the quality filter and
the chat page's suggested questions (``rag/suggestions.py``) all use these, so they live beside
both packages rather than in one of them.
"""

from __future__ import annotations

import re

_STOP_WORDS_TEXT = """
    a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each even ever every few for from further get gets got had hadn't has hasn't have haven't
    having he her here hers herself him himself his how however i if in into is isn't it it's its itself
    just let like made make makes many may me might more most much must my myself need never new no nor
    not now of off often on once one only or other our ours ourselves out over own really same say says
    see she should shouldn't so some still such than that that's the their theirs them themselves then
    there there's these they they're thing things this those though through to too under until up upon us
    use used using very want was wasn't way we we're well were weren't what what's when where which while
    who whom why will with without won't would wouldn't yet you you're your yours yourself yourselves
    first second last next also always usually would lot lots something someone anything everything
    look looks looked think thinks thought know knows knew work works take takes took give gives gave go
    goes went come comes came find finds put keep keeps kept seem seems feel feels felt tell tells told try
    tries ask asks show shows start starts run runs call calls mean means become becomes became read write
    writes wrote written change changes turn turns turned set sets help helps stop stops tend tends
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
"""English function words: never the first or last word of a key phrase."""

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'+\-]*[A-Za-z0-9+]|[A-Za-z]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")  # emphasis and code marks; snake_case stays
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
_QUESTION_START = re.compile(
    r"^(what|why|how|when|where|which|who|whom|whose|is|are|was|were|do|does|did|can|could|should|would|will|"
    r"have|has|had|shall|may|might|must)\b",
    re.IGNORECASE,
)
_COPULA = re.compile(
    r"^(?P<det>(?:the|a|an|my|our|your|this|that|these|those)\s+)?(?P<subject>[A-Za-z0-9][\w\-' ]{1,60}?)\s+"
    r"(?P<verb>is|are|was|were)\s+(?P<rest>.{3,})$",
    re.IGNORECASE,
)
_TO_GOAL = re.compile(r"^to\s+(?P<goal>[^,]{3,80}),\s*\S", re.IGNORECASE)
_CONDITION = re.compile(r"^(?P<word>if|when)\s+(?P<cond>[^,]{3,100}),\s*\S", re.IGNORECASE)
_PRONOUNS = frozenset(
    (
        "it",
        "this",
        "that",
        "there",
        "here",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "what",
        "which",
        "who",
        "one",
    )
)
_ANAPHORIC = frozenset(
    (
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "last",
        "next",
        "other",
        "same",
        "former",
        "latter",
        "one",
        "ones",
    )
)
_FIRST_PERSON = re.compile(
    r"(?<![\w/'’-])(I|me|my|mine|myself|we|us|our|ours|ourselves)(?![\w/'’-])", re.IGNORECASE
)  # whole words only: "I/O", "I'm" and "we've" stay as they are
_SECOND_PERSON = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
}  # fmt: skip
_PAST_EXPERIENCE = re.compile(
    r"^(?:I|We)\s+(?P<verb>[a-z]+ed|built|ran|wrote|spent|made|took|found|shipped|learned|learnt)\s+(?P<rest>.{8,})$"
)


def plain_text(text: str) -> str:
    """Markdown inline marks and links reduced to their text."""
    return " ".join(_MD_MARKS.sub("", _MD_ESCAPE.sub(r"\1", _MD_LINK.sub(r"\1", text))).split())


def _is_prose(block: str) -> bool:
    first = block.lstrip()
    return (
        bool(first)
        and not first.startswith(("#", "```", "~~~", "- ", "* ", "> ", "|", "    ", "\\-", "→", "•"))
        and not re.match(r"^\d+[.)]\s", first)
    )


def first_sentence(text: str) -> str | None:
    """The first sentence of the first prose paragraph (no heading, list, quote, code or title line), plain text."""
    for block in text.split("\n\n"):
        if _is_prose(block):
            sentence = _SENTENCE.split(plain_text(block.replace("\n", " ")), maxsplit=1)[0].strip()
            if len(sentence.split()) >= 4 and sentence[-1] in ".!?":  # a title or caption has no full stop
                return sentence
    return None


def _lower_first(text: str) -> str:
    # Keep acronyms and proper-looking words ("LoRA", "RAG", "Qdrant") as they are.
    word = text.split(" ", 1)[0]
    if len(word) > 1 and (word.isupper() or any(c.isupper() for c in word[1:])):
        return text
    return text[:1].lower() + text[1:]


def second_person(text: str) -> str:
    """First-person words turned to the second person ("my model" -> "your model"), for questions to the author."""
    return _FIRST_PERSON.sub(lambda m: _SECOND_PERSON[m.group(1).lower()], text)


def question_for(sentence: str) -> str | None:
    """The question ``sentence`` answers, by pattern; None when no pattern fits.

    Patterns: "X is/are Y" -> "What is/are X?"; "To X, Y" -> "How do you X?"; "If/When X, Y"
    -> "What do you advise if/when X?"; "I/We <did> X" -> "Tell me about the time you <did> X.".
    First-person words become second-person ones, since the question is put to the author.
    """
    sentence = sentence.strip().rstrip(".!").strip()
    if sentence.endswith("?"):
        return second_person(sentence) if _QUESTION_START.match(sentence) else None
    if match := _TO_GOAL.match(sentence):
        return f"How do you {second_person(_lower_first(match.group('goal').strip()))}?"
    if match := _CONDITION.match(sentence):
        condition = second_person(_lower_first(match.group("cond").strip()))
        return f"What do you advise {match.group('word').lower()} {condition}?"
    if match := _COPULA.match(sentence):
        subject = match.group("subject").strip()
        words = [w.lower() for w in subject.split()]
        determiner = (match.group("det") or "").strip().lower()
        if (
            words[0] not in _PRONOUNS
            and len(words) <= 6
            and not _ANAPHORIC.intersection(words)
            and not (determiner == "" and words[0] in STOP_WORDS)
        ):
            determiner = {"this": "the", "these": "the", "that": "the", "those": "the"}.get(
                determiner, determiner
            )
            phrase = f"{determiner} {subject}" if determiner else _lower_first(subject)
            return f"What {match.group('verb').lower()} {second_person(phrase)}?"
    if match := _PAST_EXPERIENCE.match(sentence):
        return f"Tell me about the time you {match.group('verb')} {second_person(match.group('rest'))}."
    return None


def words(text: str) -> list[str]:
    """The words of ``text`` (markdown marks dropped), as the key phrases and the fragment check count them."""
    return _TOKEN.findall(plain_text(text))


_FRAME_WORDS = frozenset(
    [
        "write",
        "passage",
        "article",
        "post",
        "explain",
        "own",
        "words",
        "voice",
        "continue",
        "opening",
        "part",
        "take",
        "think",
        "say",
        "view",
        "point",
        "tell",
        "time",
        "advise",
        "experience",
        "topic",
        "question",
        "answer",
        "about",
    ]
)
_PAIR_TEMPLATE = re.compile(
    r"^(?:what is your take on|how do you think about|explain|write a passage about|what do you have to say about)"
    r"\s+(?P<topic>.+?)(?:\s+in your own words)?[.?]$",
    re.IGNORECASE,
)
_DANGLING = re.compile(r"\b(?:the|a|an|of|and|or|to|your|my)\s*[?.!]?$", re.IGNORECASE)


def fragment_reason(instruction: str) -> str | None:
    """Why ``instruction`` is a fragment rather than a question naming its topic; None when it is fine.

    Fragments: a topic made of loose key words joined by "and" ("What is your take on wrong and
    fixes?"), a topic of fewer than two content words, a sentence ending on a function word.
    A quoted title or heading always names a topic.
    """
    text = " ".join(instruction.split())
    if _DANGLING.search(text):
        return "ends on a function word"
    if '"' in text:
        return None
    if match := _PAIR_TEMPLATE.match(text):
        parts = re.split(r",\s*|\s+and\s+", match.group("topic"))
        if len(parts) >= 2 and any(len(p.split()) == 1 for p in parts):
            return "loose key words joined as a topic"
    content = [w for w in words(text) if w.lower() not in STOP_WORDS and w.lower() not in _FRAME_WORDS]
    if len(content) < 2:
        return "names no topic"
    return None
