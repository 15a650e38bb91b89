"""Streaming redaction: emit as soon as no entity can still cross the emitted text.

Output over any split of a text into deltas equals ``redact()`` of the whole text
(structured types; see ADR 0032). Only a tail is held back: the last
``MAX_RECOGNITION`` characters, or from the start of a match that is still growing
(a PEM key being streamed), never the whole stream.
"""

from __future__ import annotations

from assay.pii._patterns import CONTEXT_BEFORE, MAX_RECOGNITION
from assay.pii.detector import Detector, resolve
from assay.pii.pseudonyms import PseudonymMap
from assay.pii.redaction import RedactionPolicy, guarded, render

__all__ = ["StreamRedactor"]

# Emitted text kept for context words and look-behind of later matches.
_HISTORY = CONTEXT_BEFORE + 8


class StreamRedactor:
    """Feed text deltas, get back redacted text that is safe to emit now."""

    def __init__(self, policy: RedactionPolicy, detector: Detector, pseudonyms: PseudonymMap | None = None) -> None:
        self._policy = policy
        self._detector = detector
        self._pseudonyms = pseudonyms
        self._history = ""
        self._floor = 0  # where the last entity before the history's end ended (in history)
        self._pending = ""
        self._failed_open = False
        self.counts: dict[str, int] = {}

    @property
    def held_back(self) -> int:
        """Characters received but not yet emitted."""
        return len(self._pending)

    def feed(self, delta: str) -> str:
        self._pending += delta
        return self._flush(final=False)

    def finish(self) -> str:
        return self._flush(final=True)

    def _flush(self, *, final: bool) -> str:
        if self._failed_open:
            out, self._pending = self._pending, ""
            return out
        text = self._history + self._pending
        base = len(self._history)
        if not final and len(text) - base <= MAX_RECOGNITION:
            return ""
        found = guarded(self._policy, lambda: self._detector.scan(text, base, self._floor))
        if found is None:
            self._failed_open = True
            out, self._pending = self._pending, ""
            return out
        # A named-entity backend sees the whole unemitted buffer; the cut avoids its entities too
        # (best effort: not part of the exactness rule, which covers the pattern types).
        named = guarded(self._policy, lambda: self._detector.ner_candidates(text, base))
        if named is None:
            self._failed_open = True
            out, self._pending = self._pending, ""
            return out
        extents = found.extents + [(c.start, c.end) for c in named]
        cut = len(text) if final else _safe_cut(len(text) - MAX_RECOGNITION, extents)
        if cut <= base:
            return ""
        spans = resolve([c for c in found.candidates + named if c.end <= cut])
        out, counts, _ = render(text, (base, cut), spans, self._policy, self._pseudonyms)
        for name, n in counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        floor = max([self._floor, *(end for _, end in found.boundaries if end <= cut)])
        trimmed = max(0, cut - _HISTORY)
        self._floor = max(0, floor - trimmed)
        self._history = text[trimmed:cut]
        self._pending = text[cut:]
        return out


def _safe_cut(cut: int, extents: list[tuple[int, int]]) -> int:
    """Move ``cut`` left until no raw match straddles it."""
    moved = True
    while moved:
        moved = False
        for start, end in extents:
            if start < cut < end:
                cut = start
                moved = True
    return cut
