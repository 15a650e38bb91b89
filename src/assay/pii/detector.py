"""The detection engine: one combined scan, context scoring, overlap resolution.  (pure)"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from assay.errors import PIIError
from assay.pii._classify import Candidate, classify, has_birth_word, spelled_dates
from assay.pii._patterns import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    LAST_CONTEXT,
    LONGEST_NEGATIVE_WORD,
    NEAR_AFTER,
    NEAR_BEFORE,
    NEGATIVE_CONTEXT,
    NEGATIVE_PHRASE,
    NEGATIVE_WORDS,
    PHRASE_JOINERS,
    PLACEHOLDER_RE,
    POSITIVE_CONTEXT,
    POSITIVE_HINTS,
    combined_for,
    combined_for_mask,
    compile_variants,
)
from assay.pii._starts import COMPILED as STARTS_COMPILED
from assay.pii._starts import pattern_starts
from assay.pii._validate import preload_phone_metadata
from assay.pii.spans import STRUCTURED_TYPES, NerBackend, Span, entity_types

__all__ = ["Detector", "NerBackend", "Scan"]

_RAISE: Final = 0.3
_LOWER: Final = 0.35
_ABSENT: Final = 1 << 30  # no context word: farther than any window reaches


class Detector:
    """Finds entities of the enabled types. Compiled once; immutable, so safe to share across threads."""

    def __init__(self, enabled_types: Iterable[str] | None = None, ner_backend: NerBackend | None = None) -> None:
        known = {t.name for t in entity_types()} | (set(ner_backend.entity_types) if ner_backend else set())
        enabled = set(known if enabled_types is None else enabled_types)
        unknown = sorted(enabled - known)
        if unknown:
            raise PIIError(
                f"unknown entity type {unknown[0]!r}",
                hint=f"Choose from: {', '.join(sorted(known))} (`assay pii types` lists them).",
            )
        self._enabled = frozenset(enabled)
        self._all_structured = self._enabled >= STRUCTURED_TYPES
        if "PHONE_NUMBER" in enabled:
            preload_phone_metadata()
        compile_variants()
        self._ner = ner_backend
        self._ner_types = frozenset(ner_backend.entity_types) & self._enabled if ner_backend else frozenset()

    @property
    def enabled_types(self) -> frozenset[str]:
        return self._enabled

    @property
    def covered_types(self) -> frozenset[str]:
        """Enabled types this detector can actually find (NER types only with a backend)."""
        return (self._enabled & STRUCTURED_TYPES) | self._ner_types

    @property
    def uncovered_types(self) -> frozenset[str]:
        """Enabled types nothing here can find: reported, never silently missed."""
        return self._enabled - self.covered_types

    @property
    def has_ner(self) -> bool:
        return bool(self._ner_types)

    def detect(self, text: str) -> list[Span]:
        """Non-overlapping spans sorted by start, each with type, score and recognizer."""
        candidates = self._scored(text, 0, 0, _raw_matches(text, 0))[0]
        if self._ner is not None:
            candidates.extend(self.ner_candidates(text))
        if len(candidates) == 1:  # nothing to resolve
            only = candidates[0]
            return [_span(only)]
        return resolve(candidates) if candidates else []

    def scan(self, text: str, pos: int, floor: int = 0) -> Scan:
        """Scored candidates starting at or after ``pos``, with what streaming needs.

        Text before ``pos`` is only looked at (context words, look-behind); ``floor``
        is where the previous entity before ``pos`` ended (context never reaches
        past an entity, so redacting it cannot change another one's score).
        """
        matches = _raw_matches(text, pos)
        scored, boundaries, spelled = self._scored(text, pos, floor, matches)
        extents = [(m.start(), _match_end(m)) for m in matches] + boundaries + spelled
        return Scan(scored, extents, boundaries)

    def _scored(
        self, text: str, pos: int, floor: int, matches: list[re.Match[str]]
    ) -> tuple[list[Candidate], list[tuple[int, int]], list[tuple[int, int]]]:
        """Candidates after context scoring; the boundaries (candidates before context, placeholders);
        the extents of spelled-out date matches."""
        raw: list[Candidate] = []
        placeholders: list[tuple[int, int]] = []
        enabled = self._enabled
        last = len(matches) - 1
        for index, match in enumerate(matches):
            if match.lastgroup == "placeholder":
                placeholders.append(match.span())
                continue
            if index < last:  # a match ending where a placeholder starts saw the placeholder
                following = matches[index + 1]
                if following.lastgroup == "placeholder" and following.start() == match.end():
                    continue
            classify(match, raw)
        if not self._all_structured:
            raw = [c for c in raw if c.type in enabled]
        boundaries = [(c.start, c.end) for c in raw] + placeholders
        # Dates in words count only next to a birth word, so they are looked for only then. They
        # fence no other candidate's context: whether they are looked for depends on words that
        # may lie anywhere in the text, and a neighbour's score must not.
        spelled: list[Candidate] = []
        spelled_extents: list[tuple[int, int]] = []
        dates = "DATE_OF_BIRTH" in enabled
        lowered = text.lower() if dates or any(c.context for c in raw) else ""
        if dates and has_birth_word(lowered):
            spelled, spelled_extents = spelled_dates(text, lowered, pos, placeholders)
        raw.extend(spelled)
        if not any(c.context for c in raw):
            return raw, boundaries, spelled_extents
        context = _Context(text, lowered, _Fences(boundaries, floor, len(text)))
        return [c for c in map(context.apply, raw) if c is not None], boundaries, spelled_extents

    def ner_candidates(self, text: str, start: int = 0, end: int | None = None) -> list[Candidate]:
        """Named-entity candidates in ``text[start:end]`` (offsets into ``text``); none without a backend.

        Spans touching a redaction placeholder are dropped, so redacting twice changes nothing.
        """
        if self._ner is None or not self._ner_types:
            return []
        region = text[start:end]
        placeholders = [m.span() for m in PLACEHOLDER_RE.finditer(region)]
        return [
            Candidate(start + s.start, start + s.end, s.type, s.score, s.recognizer, "")
            for s in self._ner.analyze(region)
            if s.type in self._ner_types
            and 0 <= s.start < s.end <= len(region)
            and not any(s.start <= p_end and p_start <= s.end for p_start, p_end in placeholders)
        ]


@dataclass(frozen=True, slots=True)
class Scan:
    candidates: list[Candidate]
    extents: list[tuple[int, int]]  # every raw match, including rejected ones
    boundaries: list[tuple[int, int]]  # candidates before context, and redaction placeholders


def _raw_matches(text: str, pos: int) -> list[re.Match[str]]:
    """The combined pattern's matches from ``pos`` on; nothing may start right where a placeholder ends.

    A placeholder ends in ``]`` or ``>``, which unlike the word character the
    redacted value may have ended with, does not block a match right after it:
    skipping those keeps redaction idempotent. Compiled, the pattern is tried only
    where ``pattern_starts`` says it may match; uncompiled, a ``re`` search is faster
    than that character loop. Both find the same matches (ADR 0039).
    """
    if STARTS_COMPILED:
        return matches_at_starts(text, pos)
    return searched_matches(text, pos)


def _admit(match: re.Match[str], start: int, after_placeholder: int) -> tuple[bool, int, int]:
    """Whether a match found at ``start`` counts, where to look next, and the last placeholder's end."""
    end = match.end()
    if match.lastgroup == "placeholder":
        return True, end if end > start else start + 1, end
    if start == after_placeholder:
        return False, start + 1, after_placeholder
    return True, end if end > start else start + 1, after_placeholder


def searched_matches(text: str, pos: int) -> list[re.Match[str]]:
    """``_raw_matches`` by searching: ``re`` tries the pattern at every position."""
    found: list[re.Match[str]] = []
    search = combined_for(text[pos - 1 :] if pos else text).search
    after_placeholder = -1
    while (match := search(text, pos)) is not None:
        keep, pos, after_placeholder = _admit(match, match.start(), after_placeholder)
        if keep:
            found.append(match)
    return found


def matches_at_starts(text: str, pos: int) -> list[re.Match[str]]:
    """``_raw_matches`` by trying the pattern only where it may start, skipping those inside a match."""
    found: list[re.Match[str]] = []
    starts: list[int] = []
    match_at = combined_for_mask(pattern_starts(text, pos, starts)).match
    after_placeholder = -1
    for start in starts:
        if start < pos:
            continue
        match = match_at(text, start)
        if match is None:
            continue
        keep, pos, after_placeholder = _admit(match, start, after_placeholder)
        if keep:
            found.append(match)
    return found


def _match_end(match: re.Match[str]) -> int:
    """End of a match, counting what the zero-width token look-ahead captured."""
    if match.lastgroup == "token":
        return match.end("token")
    return match.end()


class _Fences:
    """For a candidate, the nearest other entity (or placeholder) on each side."""

    def __init__(self, boundaries: list[tuple[int, int]], floor: int, length: int) -> None:
        self._ends = sorted(end for _, end in boundaries)
        self._starts = sorted(start for start, _ in boundaries)
        self._floor = floor
        self._length = length

    def before(self, start: int) -> int:
        index = bisect.bisect_right(self._ends, start)
        return max(self._floor, self._ends[index - 1]) if index else self._floor

    def after(self, end: int) -> int:
        index = bisect.bisect_left(self._starts, end)
        return self._starts[index] if index < len(self._starts) else self._length


_NEGATIVE_RULE: Final = {"ip": "IP_ADDRESS", "birth": "DATE_OF_BIRTH", "digits": "digits"}


class _Context:
    """Context words around candidates of one text; windows stop at the fences."""

    def __init__(self, text: str, lowered: str, fences: _Fences) -> None:
        self._text = text
        # Lower-casing once is the same as per window only when it cannot change lengths.
        self._lowered = lowered if text.isascii() else None
        self._fences = fences
        self._negative_in_text: dict[str, bool] = {}
        self._positive_in_text: dict[str, bool] = {}

    def _window(self, start: int, end: int, left: int, right: int) -> str:
        """Lower-cased text around ``text[start:end]``: a space, the text from ``left``, a separator
        no word crosses, the text up to ``right``."""
        source = self._lowered
        if source is None:
            text = self._text
            return " " + text[left:start].lower() + " \x00 " + text[end : max(right, end)].lower()
        return " " + source[left:start] + " \x00 " + source[end : max(right, end)]

    def _against(self, name: str, start: int, end: int, fence_before: int, fence_after: int) -> int:
        """How far the nearest word of negative list ``name`` is from ``text[start:end]``
        (:data:`_ABSENT` when none is near)."""
        pattern = NEGATIVE_CONTEXT.get(name)
        if pattern is None:
            return _ABSENT
        if not self._may_hold(self._negative_in_text, NEGATIVE_WORDS, name):
            return _ABSENT
        left, right = max(fence_before, start - NEAR_BEFORE), min(fence_after, end + NEAR_AFTER)
        return _nearest(pattern, self._window(start, end, left, right), start - left)

    def _may_hold(self, seen: dict[str, bool], words: dict[str, tuple[str, ...]], name: str) -> bool:
        """Whether a window can hold one of ``words[name]``: for ASCII text, no window holds a
        word the whole text lacks (looked up once per text and list); otherwise always."""
        lowered = self._lowered
        if lowered is None:
            return True
        present = seen.get(name)
        if present is None:
            present = seen[name] = any(word in lowered for word in words[name])
        return present

    def apply(self, candidate: Candidate) -> Candidate | None:
        """Apply context words; ``None`` when a candidate needs context it does not have."""
        rule = candidate.context
        if not rule:
            return candidate
        start, end = candidate.start, candidate.end
        fence_before, fence_after = self._fences.before(start), self._fences.after(end)
        against = self._against(_NEGATIVE_RULE.get(rule, ""), start, end, fence_before, fence_after)
        # With a negative word near, a positive word that only completes it ("order number")
        # names the same thing and does not count.
        phrase = NEGATIVE_PHRASE[_NEGATIVE_RULE[rule]] if against != _ABSENT else None
        positive = POSITIVE_CONTEXT.get(candidate.type)
        supporting = _ABSENT
        if positive is not None and self._may_hold(self._positive_in_text, POSITIVE_HINTS, candidate.type):
            left, right = max(fence_before, start - CONTEXT_BEFORE), min(fence_after, end + CONTEXT_AFTER)
            supporting = _nearest(positive, self._window(start, end, left, right), start - left, phrase)
        if rule in ("birth", "secret"):  # these need their word, and no negative one
            return candidate if supporting != _ABSENT and against == _ABSENT else None
        score = candidate.score
        # The nearer word decides: in "order 1234 and call +1 415 555 0134" the number is
        # something to call, in "call about order 4155552671" it is the order's (ties lower).
        if against != _ABSENT and against <= supporting:
            score -= _LOWER
        elif supporting != _ABSENT:
            score += _RAISE
        score = round(min(1.0, max(0.0, score)), 2)
        return Candidate(start, end, candidate.type, score, candidate.recognizer, rule)


def _nearest(pattern: re.Pattern[str], window: str, before: int, unless_after: re.Pattern[str] | None = None) -> int:
    """The distance in characters from the value to the nearest word ``pattern`` finds in a
    :meth:`_Context._window` whose text before the value is ``before`` long (:data:`_ABSENT`
    when there is none), skipping words that complete a phrase ``unless_after`` ends."""
    value_at = 1 + before  # the window's leading space, then the text before the value
    nearest = _ABSENT
    last, limit = LAST_CONTEXT[pattern.pattern], value_at
    while (found := last.match(window, 0, limit)) is not None:
        if unless_after is None or not _completes(unless_after, window, found.start(1) + 1):
            nearest = value_at - found.end(1)
            break
        limit = found.start(1)
    # After the value: the words start past the three-character separator.
    following = pattern.search(window, value_at + 2)
    while following is not None and unless_after is not None and _completes(unless_after, window, following.start() + 1):
        following = pattern.search(window, following.end())
    if following is not None:
        nearest = min(nearest, following.start() + 1 - (value_at + 3))
    return nearest


def _completes(phrase: re.Pattern[str], window: str, word_start: int) -> bool:
    """Whether the word at ``word_start`` completes a phrase that ``phrase`` finds ending before it."""
    head = window[:word_start].rstrip(PHRASE_JOINERS)
    return phrase.search(head, max(0, len(head) - LONGEST_NEGATIVE_WORD - 1)) is not None


def resolve(candidates: list[Candidate]) -> list[Span]:
    """Keep the best of overlapping candidates (higher score, then longer, then earlier)."""
    ranked = sorted(candidates, key=lambda c: (-c.score, -(c.end - c.start), c.start))
    kept: list[Candidate] = []
    for candidate in ranked:
        if all(candidate.end <= k.start or candidate.start >= k.end for k in kept):
            kept.append(candidate)
    kept.sort(key=lambda c: c.start)
    return [_span(c) for c in kept]


def _span(candidate: Candidate) -> Span:
    """The span of a kept candidate. ``tuple.__new__`` builds the named tuple without running its
    interpreted constructor; the result is the same ``Span``."""
    fields = (candidate.start, candidate.end, candidate.type, candidate.score, candidate.recognizer)
    return tuple.__new__(Span, fields)

