"""Fields the installed client library does not know yet, kept from the JSON the API sent.

google-cloud-run's REST transport parses each answer into proto types and drops every field its
version does not know (``sshEnabled``, filestore volumes, ``workloadIdentityConfig`` …). A field
that is dropped is a difference that is never seen, so the collector keeps the raw JSON of each
page it lists (captured on the client's own HTTP session, in the listing thread) and merges
whatever the parsed form lacks back into it, under its snake_case name, as the API sent it.
What no field table describes is judged by name too (``redact_by_name``): a field called
``sshPassword`` holds a secret whatever its value looks like.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from driftcheck.sensitive import Redactor

_local = threading.local()
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@contextmanager
def capturing() -> Iterator[list[bytes]]:
    """Collect the bodies of successful answers received by this thread meanwhile."""
    captured: list[bytes] = []
    _local.captured = captured
    try:
        yield captured
    finally:
        _local.captured = None


def capture_responses(request: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Session.request`` so that a thread inside :func:`capturing` sees what arrived."""

    def wrapped(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = request(method, url, *args, **kwargs)
        captured: list[bytes] | None = getattr(_local, "captured", None)
        if captured is not None and getattr(response, "ok", False):
            captured.append(response.content)
        return response

    return wrapped


def page_items(captured: list[bytes], list_field: str) -> list[dict[str, Any]]:
    """The resources of the last page captured, as JSON objects (empty when none was)."""
    if not captured:
        return []
    try:
        page = json.loads(captured[-1])
    except ValueError:
        return []
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), list_field)
    items = page.get(camel) if isinstance(page, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def snake(name: str) -> str:
    """``sshEnabled`` -> ``ssh_enabled``."""
    return _CAMEL.sub("_", name).lower()


def merge_unknown(parsed: dict[str, Any], raw: dict[str, Any], descriptor: Any) -> list[str]:
    """Add to ``parsed`` (a ``to_dict`` form) the fields of ``raw`` (the JSON) that the message
    ``descriptor`` does not know, at every depth. Returns the dotted paths of those added."""
    added: list[str] = []
    for key, value in raw.items():
        field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
        if field is None:
            parsed[snake(key)] = value
            added.append(snake(key))
            continue
        if field.enum_type is not None:
            if _unknown_enum(value, field.enum_type):
                # Parsing turned a value this client does not know into the default (0): a
                # new ingress setting would read as "all". What the API sent is kept instead.
                parsed[field.name] = value
                added.append(field.name)
            continue
        nested = field.message_type
        if nested is None or nested.GetOptions().map_entry:
            continue
        target = parsed.get(field.name)
        if isinstance(value, list) and isinstance(target, list):
            for index, (item, known) in enumerate(zip(value, target, strict=False)):
                if isinstance(item, dict) and isinstance(known, dict):
                    inner = merge_unknown(known, item, nested)
                    added.extend(f"{field.name}.{index}.{path}" for path in inner)
        elif isinstance(value, dict) and isinstance(target, dict):
            added.extend(f"{field.name}.{path}" for path in merge_unknown(target, value, nested))
    return added


def redact_by_name(parsed: dict[str, Any], added: list[str], redactor: Redactor) -> None:
    """Redact, in ``parsed``, the fields ``merge_unknown`` added (dotted ``added`` paths): each
    string by the name of the field that holds it, as an environment variable is."""
    for path in added:
        *parents, name = path.split(".")
        holder: Any = parsed
        for part in parents:
            holder = holder[int(part)] if isinstance(holder, list) else holder.get(part)
        if isinstance(holder, dict) and name in holder:
            holder[name] = _by_name(holder[name], name, redactor)


def _by_name(value: Any, name: str, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.text(value, name)
    if isinstance(value, dict):
        return {key: _by_name(item, str(key), redactor) for key, item in value.items()}
    if isinstance(value, list):
        return [_by_name(item, name, redactor) for item in value]
    return value


def _unknown_enum(value: Any, enum: Any) -> bool:
    """Whether ``value`` (an enum as JSON, or a list of them) holds a name ``enum`` lacks."""
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and v not in enum.values_by_name for v in values)
