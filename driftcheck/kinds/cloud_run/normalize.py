"""What Cloud Run services, jobs and worker pools share: the revision template (containers,
volumes, environment, scaling) and IAM policies, in canonical form.

Containers, volumes and ports become maps keyed by their identity; volume mounts are keyed by
where they are mounted (one volume may be mounted twice); resource limits carry Cloud Run's
defaults and one spelling of each quantity; an environment variable is a secret reference or a
value that went through the redactor knowing its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.normalize import (
    Literals,
    cpu_quantity,
    keyed,
    memory_quantity,
    secret_reference,
)
from driftcheck.sensitive import Redactor

# What Cloud Run applies when a container sets no limits.
LIMIT_DEFAULTS: dict[str, str] = {"cpu": "1000m", "memory": "512Mi"}


TEMPLATE_DEFAULTS: dict[str, Any] = {
    "timeout": 300,
    "max_instance_request_concurrency": 80,
    "session_affinity": False,
}


SCALING_DEFAULTS: dict[str, Any] = {"min_instance_count": 0, "max_instance_count": 100}


DEFAULT_PORT = {"8080": {"name": "http1"}}


def literal_reference(raw: str, neutral: Callable[[str], str], literals: Literals) -> str:
    """The reference as it will be stored (neutralized later), remembering how it was spelt:
    the secret is read under its real name, and compared under its neutral one."""
    reference = secret_reference(raw, neutral)
    if literals is not None:
        literals[neutral(reference)] = reference
    return reference


def normalize_env(
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
                "secret": literal_reference(str(ref.get("secret", "")), neutral, literals),
                "version": str(ref.get("version") or "latest"),
            }
            continue
        value = variable.get("value", "")
        if isinstance(value, dict):  # already normalized (idempotence)
            result[name] = {"value": value}
        else:
            result[name] = {"value": Redactor(fingerprints).text(str(value), name)}
    return result


def normalize_container(
    container: dict[str, Any],
    fingerprints: Fingerprinter,
    neutral: Callable[[str], str],
    literals: Literals = None,
    *,
    serves: bool = True,
) -> dict[str, Any]:
    """A container; ``serves`` when it may receive requests (a service's), so that an unset
    port is Cloud Run's default one."""
    body = dict(container)
    env = body.get("env")
    if isinstance(env, list):
        body["env"] = normalize_env(env, fingerprints, neutral, literals)
    ports = body.get("ports")
    if isinstance(ports, list):
        body["ports"] = keyed(
            [{**port, "container_port": str(port.get("container_port") or 8080)} for port in ports],
            "container_port",
            "port",
        )
    if serves and not body.get("ports"):
        body["ports"] = dict(DEFAULT_PORT)
    mounts = body.get("volume_mounts")
    if isinstance(mounts, list):
        # Keyed by where they are mounted: one volume may be mounted twice.
        body["volume_mounts"] = {
            path: {**mount, "name": neutral(str(mount.get("name", "")))}
            for path, mount in keyed(mounts, "mount_path", "mount").items()
        }
    for probe in ("liveness_probe", "startup_probe", "readiness_probe"):
        http_get = (body.get(probe) or {}).get("http_get")
        if isinstance(http_get, dict) and isinstance(http_get.get("http_headers"), list):
            # Headers by name: their order means nothing.
            headers = {str(h.get("name")): h.get("value", "") for h in http_get["http_headers"]}
            body[probe] = {**body[probe], "http_get": {**http_get, "http_headers": headers}}
    source = (body.get("source_code") or {}).get("cloud_storage_source")
    if isinstance(source, dict):
        # The uploaded object and its generation are per upload; the bucket is configuration.
        body["source_code"] = {
            **body["source_code"],
            "cloud_storage_source": {"bucket": source.get("bucket", "")},
        }
    resources = dict(body.get("resources") or {})
    limits = {**LIMIT_DEFAULTS, **(resources.get("limits") or {})}
    limits["cpu"] = cpu_quantity(limits["cpu"])
    limits["memory"] = memory_quantity(limits["memory"])
    resources["limits"] = limits
    body["resources"] = resources
    return body


def normalize_volume(
    volume: dict[str, Any], neutral: Callable[[str], str], literals: Literals = None
) -> dict[str, Any]:
    body = dict(volume)
    empty_dir = body.get("empty_dir")
    if isinstance(empty_dir, dict):
        # An in-memory volume unless told otherwise; and never an empty map that pruning drops.
        medium = str(empty_dir.get("medium") or "")
        if not medium or medium.endswith("_UNSPECIFIED"):
            body["empty_dir"] = {**empty_dir, "medium": "MEMORY"}
    secret = body.get("secret")
    if isinstance(secret, dict):
        secret = dict(secret)
        secret["secret"] = literal_reference(str(secret.get("secret", "")), neutral, literals)
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


def normalize_template(
    template: dict[str, Any],
    fingerprints: Fingerprinter,
    neutral: Callable[[str], str],
    literals: Literals = None,
    *,
    defaults: Mapping[str, Any] = TEMPLATE_DEFAULTS,
    scaling: Mapping[str, Any] | None = SCALING_DEFAULTS,
    serves: bool = True,
) -> dict[str, Any]:
    """A revision (or task) template: ``defaults`` written where unset (proto3 does not tell an
    unset number from zero), ``scaling`` defaults when the kind scales by revision."""
    body = {**defaults, **{k: v for k, v in template.items() if v not in ("", 0, None)}}
    # The revision's name is chosen per deploy (or generated): it names, it does not configure.
    body.pop("revision", None)
    if scaling is not None:
        body["scaling"] = {**scaling, **nonzero(template.get("scaling") or {})}
    access = body.get("vpc_access")
    if isinstance(access, dict) and (access.get("connector") or access.get("network_interfaces")):
        # With VPC access and no egress setting, only private ranges go through the VPC.
        egress = str(access.get("egress") or "")
        if not egress or egress.endswith("_UNSPECIFIED"):
            body["vpc_access"] = {**access, "egress": "PRIVATE_RANGES_ONLY"}
    containers = template.get("containers")
    if isinstance(containers, list):
        body["containers"] = {
            neutral(name): normalize_container(
                container, fingerprints, neutral, literals, serves=serves
            )
            for name, container in keyed(containers, "name", "container").items()
        }
    volumes = template.get("volumes")
    if isinstance(volumes, list):
        body["volumes"] = {
            neutral(name): normalize_volume(volume, neutral, literals)
            for name, volume in keyed(volumes, "name", "volume").items()
        }
    return body


def nonzero(mapping: dict[str, Any]) -> dict[str, Any]:
    """The entries that are set (proto3 writes unset scalars as zero or empty)."""
    return {key: value for key, value in mapping.items() if value not in (0, None, "")}


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
