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
:func:`~llm_engineering.application.questions.fragment_reason` recognises such fragments, and the quality filter drops them from
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

from llm_engineering.application.questions import (
    STOP_WORDS,
    first_sentence,
    fragment_reason,
    plain_text,
    question_for,
    second_person,
    words,
)
from llm_engineering.domain.dataset import Extract, InstructionSample, PreferenceSample
from llm_engineering.domain.types import DataCategory

_HEADING_PREFIX = re.compile(r"^[^\w]*(?:(?:#?\d+|[IVXLC]+)[.)]\s*)?", re.UNICODE)
_FILE_HEADING = re.compile(r"^File:\s*(?P<path>.+)$")


def _pick(options: Sequence[str], *keys: str) -> str:
    digest = hashlib.sha1("\x1f".join(keys).encode("utf-8")).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def display_title(extract: Extract) -> str | None:
    """The extract's title without the author's name that sites add ("Title - Ada Lovelace", "Ada Lovelace - Title")."""
    if not extract.title:
        return None
    title = plain_text(extract.title)
    name = re.escape(extract.author_full_name)
    title = re.sub(rf"\s*[-–—|:]\s*(?:by\s+)?{name}\s*$", "", title, flags=re.IGNORECASE)
    title = re.sub(rf"^{name}\s*[-–—|:]\s*", "", title, flags=re.IGNORECASE)
    return title.strip() or None


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
        for clause in re.split(r"[.!?;:,()\[\]\"]|\s[-–—]\s", plain_text(block)):
            run: list[str] = []
            for word in [*words(clause), ""]:
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
        heading = _HEADING_PREFIX.sub("", plain_text(extract.heading or "")).strip().rstrip(":?")
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
