"""Text helpers every renderer shares: defusing control characters, showing values briefly.

Data in a report comes from APIs, files and servers that driftcheck does not control. Before any
of it reaches a terminal, a shell comment, HTML or Markdown, :func:`neutralize` replaces the
characters that could act instead of being read: C0 and C1 controls (escape sequences, bells,
carriage returns, newlines that would start a new line of a script), DEL, Unicode bidirectional
controls (which reorder what is shown: "Trojan Source") and line separators. Each becomes
U+FFFD, visibly.
"""

from __future__ import annotations

import json
import re
from typing import Any

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
REPLACEMENT = "\ufffd"
_REDACTED_MARKER = re.compile(r"<redacted:[^>]*>")


def neutralize(text: str) -> str:
    """``text`` with every control, bidi and line-separator character replaced by U+FFFD."""
    return _CONTROL.sub(REPLACEMENT, text)


def is_redacted(value: Any) -> bool:
    """Whether ``value`` is the redacted form of a whole secret value."""
    return isinstance(value, dict) and value.get("redacted") is True


def abbreviate(text: str, limit: int = 60) -> str:
    """``text`` cut in the middle when longer than ``limit`` (both ends carry the meaning of a
    path or an image reference)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    tail = limit - 1 - head
    return f"{text[:head]}…{text[-tail:]}"


def plain(value: Any) -> str:
    """A value as one short line: strings bare, redacted values as ``(redacted)``, other values
    as compact JSON; partial redaction markers as ``(redacted)``."""
    if value is None:
        return "(absent)"
    if is_redacted(value):
        return "(redacted)"
    if isinstance(value, str):
        return _REDACTED_MARKER.sub("(redacted)", value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(_masked(value), sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _masked(value: Any) -> Any:
    if is_redacted(value):
        return "(redacted)"
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str):
        return _REDACTED_MARKER.sub("(redacted)", value)
    return value


def item_key(value: Any) -> str:
    """A list item's identity for comparing lists as multisets (stable JSON)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def list_changes(before: list[Any], after: list[Any]) -> tuple[list[Any], list[Any]]:
    """Items only in ``before`` and only in ``after`` (as multisets, order kept)."""
    remaining = [item_key(item) for item in after]
    removed = []
    for item in before:
        key = item_key(item)
        if key in remaining:
            remaining.remove(key)
        else:
            removed.append(item)
    before_keys = [item_key(item) for item in before]
    added = []
    for item in after:
        key = item_key(item)
        if key in before_keys:
            before_keys.remove(key)
        else:
            added.append(item)
    return removed, added
