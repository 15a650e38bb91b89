"""Apply a text function to every free-text string of an OpenAI request or response.

Redaction walks whole documents instead of a list of known fields, so a new
field carrying text is redacted by default; only structural keys are skipped.
Pure module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["as_document", "walk_strings", "without_logprobs"]

# Keys whose string values are identifiers or enumerations, never free text.
STRUCTURAL_KEYS = frozenset(
    {
        "role", "type", "id", "call_id", "tool_call_id", "item_id", "status", "object",
        "model", "finish_reason", "detail", "format", "encoding_format", "service_tier",
        "system_fingerprint", "previous_response_id", "truncation", "reasoning_effort",
        "url", "image_url", "file_id", "logprobs",
    }
)
# Top-level keys of a request that configure the call rather than carry content.
CONFIG_KEYS = frozenset({"tools", "tool_choice", "response_format", "text", "reasoning", "stream_options"})

_LINK_KEYS = frozenset({"url", "image_url"})

Text = Callable[[str], str]


def walk_strings(value: object, fn: Text, *, top_level_skip: frozenset[str] = CONFIG_KEYS) -> object:
    """A copy of ``value`` with ``fn`` applied to every free-text string."""
    if isinstance(value, dict):
        return {
            k: (v if k in top_level_skip else _walk(v, fn, k)) for k, v in value.items()
        }
    return _walk(value, fn, None)


def _walk(value: object, fn: Text, key: str | None) -> object:
    if isinstance(value, str):
        if key not in STRUCTURAL_KEYS:
            return fn(value)
        # A link can carry personal data in its query; inline data (base64) never gets scanned.
        return fn(value) if key in _LINK_KEYS and not value.startswith("data:") else value
    if isinstance(value, dict):
        return {k: _walk(v, fn, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fn, key) for v in value]
    return value


def without_logprobs(value: object) -> object:
    """A copy of ``value`` with every ``logprobs`` emptied.

    Token log-probabilities repeat the answer token by token; a value split across tokens
    escapes redaction, so they are withheld wherever the answer is redacted.
    """
    if isinstance(value, dict):
        return {
            k: (([] if isinstance(v, list) else None) if k == "logprobs" and v else without_logprobs(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_logprobs(v) for v in value]
    return value


def as_document(value: object) -> dict[str, Any]:
    """A walked JSON object, typed again as one (the walks keep a dict a dict)."""
    assert isinstance(value, dict)
    return value
