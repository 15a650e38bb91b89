"""Reversible pseudonyms per conversation: ``<PERSON_1>`` <-> the value it stands for.

The map holds plaintext personal data: callers store ``to_bytes()`` only inside an
encrypted record (the gateway does; this module does not encrypt).
"""

from __future__ import annotations

import re
import threading

import orjson

from assay.errors import PIIError

__all__ = ["PseudonymMap"]

_TOKEN = re.compile(r"<([A-Z][A-Z_]{1,40})_([1-9][0-9]{0,8})>")
_FORMAT_VERSION = 1


class PseudonymMap:
    """Stable, numbered stand-ins for values of each type, and the way back. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_token: dict[str, str] = {}
        self._next: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def pseudonym_for(self, entity_type: str, value: str) -> str:
        """The token for ``value`` (the same value always gets the same token)."""
        key = (entity_type, value)
        with self._lock:
            token = self._by_value.get(key)
            if token is None:
                number = self._next.get(entity_type, 0) + 1
                self._next[entity_type] = number
                token = f"<{entity_type}_{number}>"
                self._by_value[key] = token
                self._by_token[token] = value
            return token

    def value_of(self, token: str) -> str | None:
        return self._by_token.get(token)

    def restore(self, text: str) -> str:
        """Put the original values back in place of tokens this map issued (others stay)."""
        if "<" not in text:  # every token starts with one; most answers hold none
            return text
        return _TOKEN.sub(lambda m: self._by_token.get(m.group(0), m.group(0)), text)

    def to_bytes(self) -> bytes:
        with self._lock:
            entries = [[t, v, token] for (t, v), token in self._by_value.items()]
        return orjson.dumps({"v": _FORMAT_VERSION, "entries": entries})

    @classmethod
    def from_bytes(cls, data: bytes) -> PseudonymMap:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise PIIError("pseudonym map is not valid JSON", hint="Pass the bytes from PseudonymMap.to_bytes().") from exc
        if not isinstance(document, dict) or document.get("v") != _FORMAT_VERSION:
            raise PIIError("pseudonym map has an unknown format version", hint="Pass the bytes from PseudonymMap.to_bytes().")
        result = cls()
        for entry in document.get("entries", []):
            result._load(entry)
        return result

    def _load(self, entry: object) -> None:
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, str) for x in entry)):
            raise PIIError("pseudonym map has a malformed entry", hint="Pass the bytes from PseudonymMap.to_bytes().")
        entity_type, value, token = (str(x) for x in entry)
        match = _TOKEN.fullmatch(token)
        if match is None or match.group(1) != entity_type:
            raise PIIError("pseudonym map has a malformed entry", hint="Pass the bytes from PseudonymMap.to_bytes().")
        self._by_value[(entity_type, value)] = token
        self._by_token[token] = value
        self._next[entity_type] = max(self._next.get(entity_type, 0), int(match.group(2)))


class PseudonymRestorer:
    """Restores tokens in a stream of deltas, holding back only a possibly split token."""

    def __init__(self, pseudonyms: PseudonymMap) -> None:
        self._map = pseudonyms
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("<")
        if cut == -1 or ">" in text[cut:] or len(text) - cut > 52:
            cut = len(text)
        self._pending = text[cut:]
        return self._map.restore(text[:cut])

    def finish(self) -> str:
        text, self._pending = self._pending, ""
        return self._map.restore(text)
