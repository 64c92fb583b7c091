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
    if isinstance(value, list):
        return "[" + ", ".join(_inner(item) for item in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_inner(item)}" for key, item in sorted(value.items()))
    return str(value)


def _inner(value: Any) -> str:
    """A value inside a list or map: scalars bare, nested structures as compact JSON."""
    if isinstance(value, dict | list) and not is_redacted(value):
        return json.dumps(_masked(value), sort_keys=True, ensure_ascii=False)
    return plain(value)


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


def _fingerprint(value: Any) -> Any:
    return value.get("fingerprint") if is_redacted(value) else None


def describe_change(
    kind: Any, baseline: Any, actual: Any, arrow: str = "→", limit: int = 60
) -> str:
    """What changed, in one short line: ``3600 → 300``; ``+ allUsers`` for an item added to a
    list (never the whole list); ``key: a → b; + other: v`` for maps; redacted values by whether
    their fingerprints differ, never by value."""
    kind_value = getattr(kind, "value", kind)
    if _fingerprint(baseline) is not None and _fingerprint(actual) is not None:
        same = _fingerprint(baseline) == _fingerprint(actual)
        return "redacted value, same" if same else "redacted value differs"
    if kind_value == "added" or (baseline is None and actual is not None):
        return f"+ {abbreviate(plain(actual), limit)}" if actual is not None else "added"
    if kind_value == "removed" or (actual is None and baseline is not None):
        return f"- {abbreviate(plain(baseline), limit)}" if baseline is not None else "removed"
    if isinstance(baseline, list) and isinstance(actual, list):
        removed, added = list_changes(baseline, actual)
        parts = [f"+ {abbreviate(plain(item), limit)}" for item in added]
        parts += [f"- {abbreviate(plain(item), limit)}" for item in removed]
        return ", ".join(parts) if parts else "same items, another order"
    if isinstance(baseline, dict) and isinstance(actual, dict):
        parts = []
        for key in sorted(set(baseline) | set(actual)):
            if key not in actual:
                parts.append(f"- {key}")
            elif key not in baseline:
                parts.append(f"+ {key}: {abbreviate(plain(actual[key]), limit)}")
            elif baseline[key] != actual[key]:
                parts.append(
                    f"{key}: {describe_change('changed', baseline[key], actual[key], arrow, limit)}"
                )
        return "; ".join(parts) if parts else "same"
    before, after = plain(baseline), plain(actual)
    if isinstance(baseline, str) and isinstance(actual, str):
        before, after = _without_common_head(before, after)
    return f"{abbreviate(before, limit)} {arrow} {abbreviate(after, limit)}"


def _without_common_head(before: str, after: str) -> tuple[str, str]:
    """Two long strings with a long common beginning, from the path segment where they differ:
    ``…/connectors/egress-data`` and ``…/connectors/egress-legacy``."""
    common = 0
    for a, b in zip(before, after, strict=False):
        if a != b:
            break
        common += 1
    cut = before.rfind("/", 0, common) + 1
    if cut < 16:
        return before, after
    return "…" + before[cut:], "…" + after[cut:]


def violation_text(finding: Any) -> str:
    """A violation's message without what it sits under already: the resource (``probe x:``)
    and the place its path names (``references.<where>`` -> ``<where> uses …``)."""
    kind, _, name = finding.resource.partition("/")
    message = str(finding.message)
    head, _, where = finding.path.partition(".")
    # Only a reference's place is repeated by its message (``<where> uses …``); another path's
    # last word starting the message is the subject of its sentence.
    said = [f"{where} "] if where and head == "references" else []
    prefixes = [f"{kind} {name}: ", f"{finding.resource}: ", *said]
    for prefix in prefixes:
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message
