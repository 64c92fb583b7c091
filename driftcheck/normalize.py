"""Raw API objects -> the environment-neutral canonical form stored in snapshots.

The rules (see DESIGN.md, "Snapshot and baseline files"): lists with an identity become maps
keyed by it; defaults are explicit; volatile fields are dropped; project and region become
``${project}`` / ``${region}``; enums are lower-case; durations are seconds; secret-looking values
become keyed fingerprints. Normalizing is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import PROJECT, Neutralizer
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
        "encryption_key_revocation_action",
        "scaling_mode",
        "secret_type",
        "state",
    }
)
# Lists whose order carries no meaning: compared as sorted sets.
SET_FIELDS = frozenset(
    {"custom_audiences", "network_tags", "tags", "depends_on", "instances", "mount_options"}
)
_DURATION = re.compile(r"^(?P<seconds>-?\d+(?:\.\d+)?)s$")

SERVICE_DEFAULTS: dict[str, Any] = {
    "ingress": "ingress_traffic_all",
    "launch_stage": "ga",
    "invoker_iam_disabled": False,
    "default_uri_disabled": False,
}
# What Cloud Run applies when a container sets no limits.
LIMIT_DEFAULTS: dict[str, str] = {"cpu": "1000m", "memory": "512Mi"}
DEFAULT_TRAFFIC = {"latest": {"percent": 100}}
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
TEMPLATE_DEFAULTS: dict[str, Any] = {
    "timeout": 300,
    "max_instance_request_concurrency": 80,
    "session_affinity": False,
}
SCALING_DEFAULTS: dict[str, Any] = {"min_instance_count": 0, "max_instance_count": 100}
DEFAULT_PORT = {"8080": {"name": "http1"}}
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
FREE_FORM_MAPS = frozenset({"labels", "annotations", "environment_variables"})
# Lists of command-line arguments: a secret flag marks the next argument secret.
ARGUMENT_LISTS = frozenset({"args", "command"})


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


def _literal_reference(raw: str, neutral: Callable[[str], str], literals: Literals) -> str:
    """The reference as it will be stored (neutralized later), remembering how it was spelt:
    the secret is read under its real name, and compared under its neutral one."""
    reference = secret_reference(raw, neutral)
    if literals is not None:
        literals[neutral(reference)] = reference
    return reference


def _normalize_env(
    env: list[dict[str, Any]],
    fingerprints: Fingerprinter,
    neutral: Callable[[str], str],
    literals: Literals = None,
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for index, variable in enumerate(env):
        name = str(variable.get("name") or f"env-{index}")
        source = variable.get("value_source") or {}
        ref = source.get("secret_key_ref") if isinstance(source, dict) else None
        if ref:
            result[name] = {
                "secret": _literal_reference(str(ref.get("secret", "")), neutral, literals),
                "version": str(ref.get("version") or "latest"),
            }
            continue
        value = variable.get("value", "")
        if isinstance(value, dict):  # already normalized (idempotence)
            result[name] = {"value": value}
        else:
            result[name] = {"value": Redactor(fingerprints).text(str(value), name)}
    return result


def _normalize_container(
    container: dict[str, Any],
    fingerprints: Fingerprinter,
    neutral: Callable[[str], str],
    literals: Literals = None,
) -> dict[str, Any]:
    body = dict(container)
    env = body.get("env")
    if isinstance(env, list):
        body["env"] = _normalize_env(env, fingerprints, neutral, literals)
    ports = body.get("ports")
    if isinstance(ports, list):
        body["ports"] = keyed(
            [{**port, "container_port": str(port.get("container_port") or 8080)} for port in ports],
            "container_port",
            "port",
        )
    if not body.get("ports"):
        body["ports"] = dict(DEFAULT_PORT)
    mounts = body.get("volume_mounts")
    if isinstance(mounts, list):
        # Keyed by where they are mounted: one volume may be mounted twice.
        body["volume_mounts"] = {
            path: {**mount, "name": neutral(str(mount.get("name", "")))}
            for path, mount in keyed(mounts, "mount_path", "mount").items()
        }
    resources = dict(body.get("resources") or {})
    limits = {**LIMIT_DEFAULTS, **(resources.get("limits") or {})}
    limits["cpu"] = cpu_quantity(limits["cpu"])
    limits["memory"] = memory_quantity(limits["memory"])
    resources["limits"] = limits
    body["resources"] = resources
    return body


def _normalize_volume(
    volume: dict[str, Any], neutral: Callable[[str], str], literals: Literals = None
) -> dict[str, Any]:
    body = dict(volume)
    secret = body.get("secret")
    if isinstance(secret, dict):
        secret = dict(secret)
        secret["secret"] = _literal_reference(str(secret.get("secret", "")), neutral, literals)
        items = secret.get("items")
        if isinstance(items, list):
            secret["items"] = {
                str(item.get("path", f"item-{i}")): {
                    "version": str(item.get("version") or "latest"),
                    **({"mode": item["mode"]} if item.get("mode") else {}),
                }
                for i, item in enumerate(items)
            }
        body["secret"] = secret
    return body


def _normalize_template(
    template: dict[str, Any],
    fingerprints: Fingerprinter,
    neutral: Callable[[str], str],
    literals: Literals = None,
) -> dict[str, Any]:
    body = {**TEMPLATE_DEFAULTS, **{k: v for k, v in template.items() if v not in ("", 0, None)}}
    body.pop("revision", None)
    body["scaling"] = {**SCALING_DEFAULTS, **_nonzero(template.get("scaling") or {})}
    containers = template.get("containers")
    if isinstance(containers, list):
        body["containers"] = {
            neutral(name): _normalize_container(container, fingerprints, neutral, literals)
            for name, container in keyed(containers, "name", "container").items()
        }
    volumes = template.get("volumes")
    if isinstance(volumes, list):
        body["volumes"] = {
            neutral(name): _normalize_volume(volume, neutral, literals)
            for name, volume in keyed(volumes, "name", "volume").items()
        }
    return body


def _nonzero(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value not in (0, None, "")}


def _traffic_key(target: dict[str, Any]) -> str:
    if target.get("tag"):
        return f"tag:{target['tag']}"
    if target.get("revision"):
        return f"revision:{target['revision']}"
    return str(target.get("type") or "latest").lower()


def normalize_iam_policy(
    policy: Mapping[str, Any], neutral: Callable[[str], str]
) -> dict[str, Any]:
    """IAM policy -> ``{role: sorted members}``; etag and version dropped.

    Custom roles of the environment's own project (``projects/<id>/roles/…``) and its service
    agents are neutralized like any other name.
    """
    roles: dict[str, set[str]] = {}
    for binding in policy.get("bindings") or []:
        role = neutral(str(binding.get("role", "")))
        condition = binding.get("condition") or {}
        if isinstance(condition, dict) and condition.get("expression"):
            # A conditional grant (time-boxed, say) is not the permanent one.
            role = f"{role} if {neutral(str(condition['expression']))}"
        roles.setdefault(role, set()).update(neutral(str(m)) for m in binding.get("members") or [])
    return {role: sorted(members) for role, members in sorted(roles.items()) if members}


def normalize_service(
    service: Mapping[str, Any],
    iam_policy: Mapping[str, Any] | None,
    neutral: Neutralizer,
    fingerprints: Fingerprinter,
    literals: Literals = None,
) -> dict[str, Any]:
    """One Cloud Run service (``Service.to_dict`` form) -> its canonical snapshot body.

    ``literals`` (when given) collects how each secret reference was spelt, by neutral form.
    """
    # The name becomes the resource key; a template's revision name changes on every deploy.
    body: dict[str, Any] = {**SERVICE_DEFAULTS, **_nonzero(dict(service))}
    body.pop("name", None)
    template = service.get("template")
    body["template"] = _normalize_template(dict(template or {}), fingerprints, neutral, literals)
    traffic = service.get("traffic")
    if isinstance(traffic, list):
        body["traffic"] = {_traffic_key(t): {"percent": t.get("percent", 0)} for t in traffic}
    if iam_policy is not None:
        body["iam"] = normalize_iam_policy(iam_policy, neutral)
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=Redactor(fingerprints)))
    # An unspecified enum is pruned as unset: the default it stands for is written instead.
    for key, default in SERVICE_DEFAULTS.items():
        result.setdefault(key, default)
    result.setdefault("traffic", dict(DEFAULT_TRAFFIC))
    return result
