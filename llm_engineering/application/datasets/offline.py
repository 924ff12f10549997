"""The offline strategies: instructions derived from each extract, and generic rejected answers.

No model and no network: the same extracts always give the same samples.

**Instructions** (:class:`OfflineInstructionWriter`). The answer of every sample is the
extract itself, verbatim: the twin learns the author's own words, facts and voice. Each
instruction is a question a reader would ask, naming the topic of its answer. Up to
``instructions_per_extract`` are derived per extract, from these sources in this order (a
source that yields nothing is skipped):

1. *The question the first sentence answers.* The first prose sentence is turned back into
   the question it answers with a few patterns: "X is/are Y" -> "What is/are X?"; "To X, Y"
   -> "How do you X?"; "If/When X, Y" -> "What do you advise when X?".
2. *The section heading* the extract sits under (its own, or the nearest one before it):
   'In your article "T", what do you say about "H"?'. (For a repository, the ``## File:``
   header: "Write the file P of the repository R.")
3. *The title*, for a document's first extract: 'What is your article "T" about?'.
4. *A key phrase* of two or three words, scored by frequency in the extract times inverse
   document frequency over all extracts of the run (so words every extract uses do not
   count), stop words excluded at phrase edges: 'In "T", what do you say about P?'.

Loose key words joined by "and" ("What is your take on wrong and fixes?") are never asked:
:func:`fragment_reason` recognises such fragments, and the quality filter drops them from
every strategy's samples. The wording within a source rotates among a few templates, chosen
by a hash of the extract id; the choice is deterministic. Trade-offs: the questions are
plainer than an LLM's and a long extract answers more than its question asks, but every
answer is true to the author and costs nothing to make; with an endpoint, the ``llm``
strategy writes richer pairs.

**Rejected answers** (:class:`GenericAnswerWriter`), the ``offline`` preference strategy:
a deliberately generic answer on the extract's topic, from templates that say nothing
specific ("X is an important topic... it depends on your situation... follow best
practices"). DPO on such pairs pushes the model from bland assistant filler toward the
author's concrete, first-person text. It is an honest but weak signal: the rejected answers
are easy to tell apart and teach nothing about subtle mistakes; a model's own answers (the
``model`` strategy, e.g. the SFT twin) or an LLM's (``llm``) give harder negatives.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

from llm_engineering.domain.dataset import Extract, InstructionSample, PreferenceSample
from llm_engineering.domain.types import DataCategory

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
_HEADING_PREFIX = re.compile(r"^[^\w]*(?:(?:#?\d+|[IVXLC]+)[.)]\s*)?", re.UNICODE)
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
_FILE_HEADING = re.compile(r"^File:\s*(?P<path>.+)$")


def _pick(options: Sequence[str], *keys: str) -> str:
    digest = hashlib.sha1("\x1f".join(keys).encode("utf-8")).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def _plain(text: str) -> str:
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
            sentence = _SENTENCE.split(_plain(block.replace("\n", " ")), maxsplit=1)[0].strip()
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


def display_title(extract: Extract) -> str | None:
    """The extract's title without the author's name that sites add ("Title - Ada Lovelace", "Ada Lovelace - Title")."""
    if not extract.title:
        return None
    title = _plain(extract.title)
    name = re.escape(extract.author_full_name)
    title = re.sub(rf"\s*[-–—|:]\s*(?:by\s+)?{name}\s*$", "", title, flags=re.IGNORECASE)
    title = re.sub(rf"^{name}\s*[-–—|:]\s*", "", title, flags=re.IGNORECASE)
    return title.strip() or None


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(_plain(text))


def candidate_phrases(text: str) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """One- to three-word phrases of ``text``: their counts (lower case) and the spellings seen.

    A phrase lies within a run of words between stop words and punctuation (as in RAKE), so
    it never starts or ends with a function word; numbers and code are left out.
    """
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for block in text.split("\n\n"):
        if block.lstrip().startswith(("```", "~~~")):
            continue  # code is not where the topic's words are
        for clause in re.split(r"[.!?;:,()\[\]\"]|\s[-–—]\s", _plain(block)):
            run: list[str] = []
            for word in [*_tokens(clause), ""]:
                if word and word.lower() not in STOP_WORDS and len(word) >= 3:
                    run.append(word)
                    continue
                for n in (1, 2, 3):
                    for i in range(len(run) - n + 1):
                        surface = " ".join(run[i : i + n])
                        key = surface.lower()
                        counts[key] += 1
                        spellings.setdefault(key, Counter())[surface] += 1
                run = []
    return counts, spellings


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _looks_like_verb(word: str) -> bool:
    # No part-of-speech tagger offline: past participles and adverbs are the usual noise.
    return word.endswith(("ed", "ly"))


class KeyPhrases:
    """TF-IDF key phrases of texts, IDF taken over a fixed collection (the run's extracts).

    Args:
        texts: the collection; each text is one "document" for IDF.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        parsed = [candidate_phrases(t) for t in texts]
        self._phrases = [counts for counts, _ in parsed]
        self._spellings = [spellings for _, spellings in parsed]
        document_frequency: Counter[str] = Counter()
        for phrases in self._phrases:
            document_frequency.update(phrases.keys())
        self._n = max(1, len(texts))
        self._df = document_frequency

    def top(self, index: int, k: int = 3) -> list[str]:
        """The ``k`` best phrases of text ``index``, as the text spells them.

        Phrases the text repeats come first (a one-off word sequence is more often a clause
        fragment than a topic), then single words that do not look like verbs or adverbs;
        a phrase sharing a word with a better one is skipped.
        """
        phrases = self._phrases[index]

        def score(phrase: str, count: int) -> float:
            return count * math.log(1 + self._n / self._df[phrase]) * (1 + 0.5 * phrase.count(" "))

        repeated = sorted(
            (-score(p, c), p)
            for p, c in phrases.items()
            if c >= 2 and not _looks_like_verb(p.rsplit(" ", 1)[-1])
        )
        single = sorted(
            (-score(p, c), p)
            for p, c in phrases.items()
            if c == 1 and " " not in p and not _looks_like_verb(p) and not p.endswith("ing")
        )
        chosen: list[str] = []
        used: set[str] = set()
        for _, phrase in [*repeated, *single]:
            stems = {_stem(w) for w in phrase.split()}
            if stems & used:
                continue
            chosen.append(phrase)
            used |= stems
            if len(chosen) == k:
                break
        spellings = self._spellings[index]
        return [_spelling(spellings[p]) for p in chosen]


def _spelling(seen: Counter[str]) -> str:
    """The usual spelling of a phrase; lower case wins a tie (sentence-initial capitals are not names)."""
    return max(seen.items(), key=lambda item: (item[1], item[0].islower(), item[0]))[0]


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_KIND = {
    DataCategory.ARTICLES: "article",
    DataCategory.POSTS: "post",
    DataCategory.REPOSITORIES: "repository",
}


class OfflineInstructionWriter:
    """Derives instructions from extracts; the answer of each is the extract itself (method in the module docstring).

    Args:
        extracts: all extracts of the run (their key phrases are scored against each other).
        instructions_per_extract: at most this many instructions per extract.
    """

    source = "offline"

    def __init__(self, extracts: Sequence[Extract], *, instructions_per_extract: int = 2) -> None:
        self.extracts = list(extracts)
        self.instructions_per_extract = instructions_per_extract
        self._phrases = KeyPhrases([e.content for e in self.extracts])

    def instructions(self, position: int) -> list[str]:
        """The questions of extract number ``position``, best source first, without repeats or fragments."""
        extract = self.extracts[position]
        phrases = self._phrases.top(position)
        candidates = [
            self._from_first_sentence(extract),
            self._from_heading(extract),
            self._from_title(extract, phrases),
            self._from_phrases(extract, phrases),
        ]
        chosen: list[str] = []
        for text in candidates:
            if text and text not in chosen and fragment_reason(text) is None:
                chosen.append(text)
        return chosen[: self.instructions_per_extract]

    def samples(self) -> list[InstructionSample]:
        """One sample per instruction of every extract, answered by the extract's own text."""
        return [
            InstructionSample(
                instruction=instruction,
                answer=extract.content,
                category=extract.category,
                extract_id=extract.id,
                document_id=extract.document_id,
                source=self.source,
            )
            for position, extract in enumerate(self.extracts)
            for instruction in self.instructions(position)
        ]

    @staticmethod
    def _from_first_sentence(extract: Extract) -> str | None:
        if extract.category == DataCategory.REPOSITORIES:
            return None
        sentence = first_sentence(extract.content)
        return question_for(sentence) if sentence else None

    @staticmethod
    def _from_heading(extract: Extract) -> str | None:
        heading = _HEADING_PREFIX.sub("", _plain(extract.heading or "")).strip().rstrip(":?")
        title = display_title(extract)
        if not heading or (title and heading.casefold() in title.casefold()):
            return None
        if extract.category == DataCategory.REPOSITORIES:
            match = _FILE_HEADING.match(heading)
            path = match.group("path") if match else heading
            return f"Write the file {path} of the repository {title or 'you maintain'}."
        kind = _KIND[DataCategory(extract.category)]
        topic = second_person(heading)
        if title:
            template = _pick(
                [
                    'In your {kind} "{title}", what do you say about "{topic}"?',
                    'What is your view on "{topic}", as you put it in "{title}"?',
                    'Your {kind} "{title}" has a part on "{topic}": what is your point there?',
                ],
                extract.id,
                "h",
            )
        else:
            template = _pick(['What do you say about "{topic}"?'], extract.id, "h")
        return template.format(kind=kind, title=title, topic=topic)

    @staticmethod
    def _from_phrases(extract: Extract, phrases: list[str]) -> str | None:
        # Only a multi-word key phrase names a topic; loose key words joined by "and" do not.
        topics = [p for p in phrases if " " in p]
        if not topics:
            return None
        if extract.category == DataCategory.REPOSITORIES:
            return f"Write code that deals with {topics[0]}."
        title = display_title(extract)
        if title and extract.index > 0:
            return f'In "{title}", what do you say about {topics[0]}?'
        if title:
            return f'How do you think about {topics[0]}, in your {_KIND[DataCategory(extract.category)]} "{title}"?'
        return f"What is your experience with {topics[0]}?"

    @staticmethod
    def _from_title(extract: Extract, phrases: list[str]) -> str | None:
        title = display_title(extract)
        if not title or extract.index > 0:
            return None  # a later extract's topic is its heading or its key phrase, not the title
        return _pick(
            ['What is your {kind} "{title}" about?', 'Why did you write "{title}"?'], extract.id, "t"
        ).format(kind=_KIND[DataCategory(extract.category)], title=title)


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
    content = [w for w in _tokens(text) if w.lower() not in STOP_WORDS and w.lower() not in _FRAME_WORDS]
    if len(content) < 2:
        return "names no topic"
    return None


_GENERIC_ANSWERS = (
    "{Topic} is an important topic with many different aspects. The right approach depends on your "
    "specific situation, goals and constraints. In general, it is a good idea to start with the basics, "
    "follow established best practices and adjust as you learn more. There is no one-size-fits-all answer, "
    "so consider the trade-offs carefully before making a decision.",
    "There are several things to keep in mind when it comes to {topic}. First, make sure you understand "
    "the fundamentals. Second, think about the context you are working in. Finally, remember that every "
    "situation is different, so what works for one team may not work for another.",
    "Great question! {Topic} can be approached in many ways. Many experts recommend taking a structured "
    "approach, evaluating the available options and choosing the one that best fits your needs. It is "
    "also worth staying up to date with the latest developments, as this field is evolving quickly.",
    "When thinking about {topic}, it is important to balance several factors, such as cost, quality and "
    "time. A careful analysis of your requirements will help you find the best solution. Do not hesitate "
    "to experiment, measure the results and iterate until you are satisfied.",
)


class GenericAnswerWriter:
    """Writes deliberately generic rejected answers on each sample's topic (trade-offs in the module docstring).

    Args:
        samples: the instruction samples to make preference samples of.
    """

    source = "offline"

    def __init__(self, samples: Sequence[InstructionSample]) -> None:
        self.samples = list(samples)
        # Several samples of one extract share their answer: score each text once.
        answers = list(dict.fromkeys(s.answer for s in self.samples))
        self._answer_index = {answer: i for i, answer in enumerate(answers)}
        self._phrases = KeyPhrases(answers)

    def rejected(self, position: int) -> str:
        """The generic answer of sample number ``position``."""
        sample = self.samples[position]
        phrases = self._phrases.top(self._answer_index[sample.answer], k=2)
        topic = _join(phrases) if phrases else "this topic"
        template = _pick(_GENERIC_ANSWERS, sample.extract_id, sample.instruction)
        return template.format(topic=topic, Topic=topic[:1].upper() + topic[1:])

    def samples_with_rejected(self) -> list[PreferenceSample]:
        """Preference samples: the instruction, the author's answer as chosen, a generic answer as rejected."""
        return [
            PreferenceSample(
                instruction=sample.instruction,
                chosen=sample.answer,
                rejected=self.rejected(position),
                category=sample.category,
                extract_id=sample.extract_id,
                document_id=sample.document_id,
                source=f"{sample.source}+rejected:offline",
            )
            for position, sample in enumerate(self.samples)
        ]
