"""Test support for the PII scanner: the scan as first specified, an oracle for the faster ones."""

from __future__ import annotations


def reference_matches(text: str, pos: int) -> list[tuple[int, int, str | None]]:
    """The full combined pattern searched from each match's end; nothing counts that starts
    right where a placeholder ends."""
    from assay.pii._patterns import COMBINED

    found: list[tuple[int, int, str | None]] = []
    after_placeholder = -1
    while (match := COMBINED.search(text, pos)) is not None:
        start, end = match.span()
        pos = end if end > start else start + 1
        if match.lastgroup == "placeholder":
            after_placeholder = end
        elif start == after_placeholder:
            pos = start + 1
            continue
        found.append((start, end, match.lastgroup))
    return found
