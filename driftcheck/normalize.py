"""Raw API objects -> the environment-neutral canonical form stored in snapshots.

The rules (see DESIGN.md, "Snapshot and baseline files"): lists with an identity become maps
keyed by it; defaults are explicit; volatile fields are dropped; project and region become
``${project}`` / ``${region}``; enums are lower-case; durations are seconds; secret-looking values
become keyed fingerprints. Normalizing is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from driftcheck.identity import PROJECT
from driftcheck.sensitive import Redactor

VOLATILE_FIELDS = frozenset(
    {
        "build_info",  # which build made the image: per build, not configuration
        "uid",
        "etag",
        "generation",
        "create_time",
        "update_time",
        "delete_time",
        "destroy_time",
        "next_rotation_time",
        "uri",
        "urls",
        "creator",
        "last_modifier",
        "conditions",
        "terminal_condition",
        "latest_ready_revision",
        "latest_created_revision",
        "traffic_statuses",
        "reconciling",
        "observed_generation",
        "client",
        "client_version",
        "source_location",  # where a build's sources were uploaded: per build
        "satisfies_pzs",
        "threat_detection_enabled",
        "expire_time",
    }
)
# Annotations and labels written by tools and the control plane, not by people.
VOLATILE_ANNOTATIONS = frozenset(
    {
        "run.googleapis.com/operation-id",
        "run.googleapis.com/client-name",
        "run.googleapis.com/client-version",
        "client.knative.dev/user-image",
        "client.knative.dev/nonce",
        "serving.knative.dev/creator",
        "serving.knative.dev/lastModifier",
        "goog-terraform-provisioned",
    }
)
ENUM_FIELDS = frozenset(
    {
        "ingress",
        "launch_stage",
        "execution_environment",
        "egress",
        "type",
        "type_",
        "encryption_key_revocation_action",
        "scaling_mode",
        "secret_type",
        "state",
    }
)
# Lists whose order carries no meaning: compared as sorted sets.
SET_FIELDS = frozenset(
    {
        "custom_audiences",
        "network_tags",
        "tags",
        "depends_on",
        "instances",
        "mount_options",
        "regions",
    }
)
_UNSPECIFIED = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_UNSPECIFIED$")
_DURATION = re.compile(r"^(?P<seconds>-?\d+(?:\.\d+)?)s$")

_MEMORY_UNITS = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>m|k|M|G|Ki|Mi|Gi|Ti)?$")
Literals = dict[str, str] | None


def cpu_quantity(value: Any) -> Any:
    """``"1"``, ``"1.0"`` and ``"1000m"`` are one CPU: written ``"1000m"``."""
    match = _QUANTITY.match(str(value))
    if match is None or match.group("unit") not in (None, "m"):
        return value
    number = float(match.group("number"))
    millis = number if match.group("unit") == "m" else number * 1000
    return f"{round(millis)}m"


def memory_quantity(value: Any) -> Any:
    """``"512Mi"``, ``"0.5Gi"`` and ``"536870912"`` are the same memory: written in Mi (or bytes
    when not a whole number of Mi)."""
    match = _QUANTITY.match(str(value))
    if match is None or match.group("unit") == "m":
        return value
    size = float(match.group("number")) * _MEMORY_UNITS[match.group("unit") or ""]
    mebibytes = size / 1024**2
    return f"{round(mebibytes)}Mi" if mebibytes.is_integer() else str(round(size))


def seconds(value: Any) -> Any:
    """``"300s"`` -> 300, ``"1.5s"`` -> 1.5; anything else unchanged."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            number = float(match.group("seconds"))
            return int(number) if number.is_integer() else number
    return value


def prune(value: Any) -> Any:
    """Drop empty strings, lists, maps and None (proto3 does not distinguish them from unset)."""
    if isinstance(value, dict):
        pruned = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in ("", [], {}, None)}
    if isinstance(value, list):
        return [prune(item) for item in value]
    return value


# Maps whose keys are names chosen by people: a key that says "secret" marks its value secret.
FREE_FORM_MAPS = frozenset({"labels", "annotations", "environment_variables", "http_headers"})
# Lists of command-line arguments: a secret flag marks the next argument secret.
ARGUMENT_LISTS = frozenset({"args", "command"})
# Fields whose strings are written by people, never enums.
_FREE_TEXT = frozenset({"value", *ARGUMENT_LISTS})


def canonical(
    value: Any,
    neutral: Callable[[str], str],
    key: str = "",
    redactor: Redactor | None = None,
    *,
    named: bool = False,
) -> Any:
    """Generic rules for every field: volatile out, enums lower, durations in seconds, and every
    string through the redactor (by content; by name too in free-form maps and name/value
    pairs) before project and region are neutralized."""
    if isinstance(value, dict):
        if value.get("redacted") is True:
            return value
        if redactor is not None and _is_name_value_pair(value):
            value = {**value, "value": redactor.text(value["value"], str(value["name"]))}
        result = {}
        for child_key, child in value.items():
            if child_key in VOLATILE_FIELDS or child_key in VOLATILE_ANNOTATIONS:
                continue
            # A container's env was redacted knowing each variable's name: not again without.
            already = child_key == "env" and isinstance(child, dict)
            result[child_key] = canonical(
                child,
                neutral,
                child_key,
                None if already else redactor,
                named=key in FREE_FORM_MAPS,
            )
        return result
    if isinstance(value, list):
        if redactor is not None and key in ARGUMENT_LISTS:
            value = redactor.arguments(value)
        items = [canonical(item, neutral, key, redactor) for item in value]
        if key in SET_FIELDS and all(isinstance(item, str) for item in items):
            return sorted(set(items))
        return items
    if isinstance(value, str):
        if _UNSPECIFIED.match(value) and not named and key not in _FREE_TEXT:
            # Any enum left unspecified is unset: the default it stands for applies. (Not in
            # what people write: an env value, an argument, a label.)
            return ""
        if key in ENUM_FIELDS:
            # An unspecified enum is the API's way of saying "unset": the default applies.
            return "" if value.lower().endswith("_unspecified") else value.lower()
        if key in ("timeout", "ttl", "rotation_period") or key.endswith(("_timeout", "_ttl")):
            converted = seconds(value)
            if converted is not value:
                return converted
        if redactor is not None:
            redacted = redactor.text(value, key if named else "")
            if not isinstance(redacted, str):
                return redacted
            value = redacted
        return neutral(value)
    return value


def _is_name_value_pair(value: dict[str, Any]) -> bool:
    """``{name, value}``: an env var, an HTTP header, a build variable."""
    return isinstance(value.get("name"), str) and isinstance(value.get("value"), str)


def keyed(items: list[dict[str, Any]], key: str, fallback: str) -> dict[str, dict[str, Any]]:
    """A list of objects with an identity -> a map keyed by it (the key field removed)."""
    result: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        body = dict(item)
        identity = str(body.pop(key, "") or f"{fallback}-{index}")
        result[identity] = body
    return result


_SECRET_PATH = re.compile(r"^projects/(?P<project>[^/]+)/secrets/(?P<name>[^/]+)$")


def secret_reference(reference: str, neutral: Callable[[str], str]) -> str:
    """A secret reference in neutral form: the bare name for a secret of the environment's own
    project; ``projects/<project>/secrets/<name>`` (kept) for one in another project, such as a
    central secrets project, which is read there."""
    match = _SECRET_PATH.match(reference)
    if match is None:
        return reference
    if neutral(match.group("project")) == PROJECT:
        return match.group("name")
    return reference


def split_secret_reference(reference: str) -> tuple[str | None, str]:
    """``projects/p/secrets/n`` -> ``("p", "n")``; a bare name -> ``(None, name)``."""
    match = _SECRET_PATH.match(reference)
    if match is None:
        return None, reference
    return match.group("project"), match.group("name")
