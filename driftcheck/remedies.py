"""Remedies: the gcloud arguments that bring the checked environment back to its baseline.

A remedy sees one difference (a :class:`Change`: path, kind, both values, in their neutral form)
and returns :class:`Fix` objects: which resource to act on, which gcloud verb, which flags. The
catalogue (``severity.catalogue``) names the remedy of each rule; ``hints`` turns fixes into
shell commands with the environment's real project, region and names. Remedies never run
anything and never see secret material: a redacted value yields no fix.

Flags are those of ``gcloud run services update`` (and its IAM and ``gcloud secrets`` siblings);
``tests/test_hints.py`` checks every flag used here against a table of the documented ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftcheck.model import FindingKind

SERVICE_UPDATE = ("run", "services", "update")
SERVICE_ADD_INVOKER = ("run", "services", "add-iam-policy-binding")
SERVICE_REMOVE_INVOKER = ("run", "services", "remove-iam-policy-binding")
# Keys that stand for a container or volume without a name in the API (see normalize.keyed).
_UNNAMED = re.compile(r"^(?:container|volume|mount|port|env)-\d+$")
INGRESS_FLAG = {
    "ingress_traffic_all": "all",
    "ingress_traffic_internal_only": "internal",
    "ingress_traffic_internal_load_balancer": "internal-and-cloud-load-balancing",
}
VPC_EGRESS_FLAG = {"all_traffic": "all-traffic", "private_ranges_only": "private-ranges-only"}


@dataclass(frozen=True)
class Change:
    """One difference or violation, as a remedy sees it (values in their neutral form).

    ``checked`` and ``approved`` are the resources of the checked snapshot and of the baseline,
    for facts a fix needs beyond the two values (the newest enabled version of a secret, the
    whole variable a one-field difference belongs to); ``cross_environment`` tells whether the
    baseline is another environment's (whose version numbers mean nothing here).
    """

    resource: str
    path: str
    kind: FindingKind
    baseline: Any
    actual: Any
    checked: Mapping[str, Any] = field(default_factory=dict)
    approved: Mapping[str, Any] = field(default_factory=dict)
    cross_environment: bool = False


@dataclass(frozen=True)
class Fix:
    """gcloud ``verb`` with ``flags`` on ``target`` (a resource key; the change's by default).

    ``hints`` adds the real resource name, ``--project`` and (for regional resources)
    ``--region``, and replaces neutral placeholders in the flags by the real spellings.
    """

    verb: tuple[str, ...]
    flags: tuple[str, ...]
    target: str | None = None


Remedy = Callable[[Change], list[Fix]]


def is_redacted(value: Any) -> bool:
    """Whether ``value`` is, or holds, a redacted secret: no fix may carry it."""
    if isinstance(value, dict):
        return value.get("redacted") is True or any(is_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(is_redacted(item) for item in value)
    return isinstance(value, str) and "<redacted:" in value


def _container_flag(container: str) -> tuple[str, ...]:
    """``--container=NAME`` for a named container; nothing for an unnamed (single) one."""
    return () if _UNNAMED.match(container) else (f"--container={container}",)


def _list_flag(flag: str, items: list[str]) -> str:
    """A gcloud list or dict flag; items holding a comma use gcloud's ``^DELIM^`` escape."""
    joined = ",".join(items)
    if not any("," in item for item in items):
        return f"{flag}={joined}"
    delimiter = next(d for d in "@#|;~%!" if not any(d in item for item in items))
    return f"{flag}=^{delimiter}^{delimiter.join(items)}"


def _update(*flags: str, target: str | None = None) -> list[Fix]:
    return [Fix(SERVICE_UPDATE, tuple(flags), target)]


def _scalar(value: Any) -> str | None:
    """A plain value as gcloud wants it, or None when it is not a plain value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str) and not is_redacted(value):
        return str(value)
    return None


# Service-level fields -----------------------------------------------------------------------------
def ingress(change: Change) -> list[Fix]:
    """``--ingress`` back to the baseline's setting."""
    value = INGRESS_FLAG.get(str(change.baseline))
    return _update(f"--ingress={value}") if value else []


def invoker_iam_check(change: Change) -> list[Fix]:
    """``--[no-]invoker-iam-check`` back to the baseline's setting."""
    if not isinstance(change.baseline, bool):
        return []
    return _update("--no-invoker-iam-check" if change.baseline else "--invoker-iam-check")


def iam_bindings(change: Change) -> list[Fix]:
    """Remove the members the baseline does not grant a role; add those it does."""
    if change.path == "iam":
        before = change.baseline if isinstance(change.baseline, dict) else {}
        after = change.actual if isinstance(change.actual, dict) else {}
        roles = sorted(set(before) | set(after))
        return [fix for role in roles for fix in _members(role, before.get(role), after.get(role))]
    role = change.path.removeprefix("iam.")
    return _members(role, change.baseline, change.actual)


CONDITION_MARK = " if "


def _members(role: str, baseline: Any, actual: Any) -> list[Fix]:
    if CONDITION_MARK in role:
        # A conditional grant is removed or added with its exact condition (title included),
        # which the snapshot does not keep: no command rather than a wrong one.
        return []
    before = {str(m) for m in baseline} if isinstance(baseline, list) else set()
    after = {str(m) for m in actual} if isinstance(actual, list) else set()
    fixes = [
        Fix(SERVICE_REMOVE_INVOKER, (f"--member={member}", f"--role={role}"))
        for member in sorted(after - before)
    ]
    fixes += [
        Fix(SERVICE_ADD_INVOKER, (f"--member={member}", f"--role={role}"))
        for member in sorted(before - after)
    ]
    return fixes


def labels(change: Change) -> list[Fix]:
    """``--update-labels`` / ``--remove-labels`` (service labels only)."""
    if not change.resource.startswith("service/"):
        return []
    if change.path == "labels":
        before = change.baseline if isinstance(change.baseline, dict) else {}
        after = change.actual if isinstance(change.actual, dict) else {}
    else:
        key = change.path.removeprefix("labels.")
        before = {} if change.baseline is None else {key: change.baseline}
        after = {} if change.actual is None else {key: change.actual}
    flags = []
    updates = [
        f"{key}={_scalar(value)}"
        for key, value in sorted(before.items())
        if after.get(key) != value and _scalar(value) is not None
    ]
    if updates:
        flags.append(_list_flag("--update-labels", updates))
    removals = sorted(key for key in after if key not in before)
    if removals:
        flags.append(_list_flag("--remove-labels", removals))
    return _update(*flags) if flags else []


# Revision template -------------------------------------------------------------------------------
def request_timeout(change: Change) -> list[Fix]:
    """``--timeout`` in seconds."""
    value = change.baseline
    return _update(f"--timeout={value}") if isinstance(value, int | float) else []


def session_affinity(change: Change) -> list[Fix]:
    """``--[no-]session-affinity``."""
    if not isinstance(change.baseline, bool):
        return []
    return _update("--session-affinity" if change.baseline else "--no-session-affinity")


def max_concurrency(change: Change) -> list[Fix]:
    """``--concurrency``."""
    value = change.baseline
    return _update(f"--concurrency={value}") if isinstance(value, int) else []


def service_account(change: Change) -> list[Fix]:
    """``--service-account``."""
    value = _scalar(change.baseline)
    return _update(f"--service-account={value}") if value else []


_SCALING_FLAGS = {"min_instance_count": "--min-instances", "max_instance_count": "--max-instances"}


def scaling(change: Change) -> list[Fix]:
    """``--min-instances`` / ``--max-instances`` (revision scaling)."""
    field_name = change.path.rsplit(".", 1)[-1]
    flag = _SCALING_FLAGS.get(field_name)
    if not change.path.startswith("template.scaling.") or flag is None:
        return []
    value = change.baseline
    return _update(f"{flag}={value}") if isinstance(value, int) else []


_VPC = re.compile(r"template\.vpc_access(?:\.(?P<field>connector|egress))?")


def vpc_access(change: Change) -> list[Fix]:
    """``--vpc-connector`` / ``--clear-vpc-connector`` and ``--vpc-egress``."""
    match = _VPC.fullmatch(change.path)
    if match is None:
        return []  # Direct VPC network interfaces: see the rule's advice
    if match.group("field") is None:
        body = change.baseline if isinstance(change.baseline, dict) else {}
        if not body:
            return _update("--clear-vpc-connector")
        connector, egress = body.get("connector"), body.get("egress")
    elif match.group("field") == "connector":
        connector, egress = change.baseline, None
        if connector is None:
            return _update("--clear-vpc-connector")
    else:
        connector, egress = None, change.baseline
    flags = []
    if isinstance(connector, str):
        flags.append(f"--vpc-connector={connector}")
    if isinstance(egress, str) and egress in VPC_EGRESS_FLAG:
        flags.append(f"--vpc-egress={VPC_EGRESS_FLAG[egress]}")
    return _update(*flags) if flags else []


_PORT = re.compile(r"template\.containers\.(?P<c>[^.]+)\.ports(?:\.(?P<port>\d+)(?:\.name)?)?")


def ports(change: Change) -> list[Fix]:
    """``--port`` and ``--[no-]use-http2`` (a port named ``h2c`` is HTTP/2 end to end)."""
    match = _PORT.fullmatch(change.path)
    if match is None:
        return []
    container = _container_flag(match.group("c"))
    if match.group("port") is None:  # the whole ports map
        body = change.baseline if isinstance(change.baseline, dict) else {}
        if len(body) != 1:
            return []
        port, spec = next(iter(body.items()))
        name = spec.get("name") if isinstance(spec, dict) else None
    elif change.path.endswith(".name"):
        port, name = None, change.baseline
    else:
        if change.baseline is None:  # a port only the checked side has: its twin says which
            return []
        port = match.group("port")
        name = change.baseline.get("name") if isinstance(change.baseline, dict) else None
    flags = [*container]
    if port is not None:
        flags.append(f"--port={port}")
    if name in ("h2c", "http1"):
        flags.append("--use-http2" if name == "h2c" else "--no-use-http2")
    return _update(*flags) if len(flags) > len(container) else []


_IMAGE = re.compile(r"template\.containers\.(?P<c>[^.]+)\.image")


def image(change: Change) -> list[Fix]:
    """``--image`` of the container (by digest when the baseline pins one)."""
    match = _IMAGE.fullmatch(change.path)
    value = _scalar(change.baseline)
    if match is None or value is None:
        return []
    return _update(*_container_flag(match.group("c")), f"--image={value}")


_ENV = re.compile(
    r"template\.containers\.(?P<c>[^.]+)\.env\.(?P<name>.+?)(?:\.(?P<field>value|secret|version))?"
)


def env_var(change: Change) -> list[Fix]:
    """``--update-env-vars`` / ``--remove-env-vars`` for values, ``--update-secrets`` /
    ``--remove-secrets`` for secret references. The fix sets the whole variable as the baseline
    has it (a value that became a secret reference is one fix, whichever field a finding names).
    A redacted value gets no command."""
    match = _ENV.fullmatch(change.path)
    if match is None:
        return []
    container, name = _container_flag(match.group("c")), match.group("name")
    before = _variable(change.approved, change, match)
    after = _variable(change.checked, change, match)
    if before is None and after is None:  # snapshots not at hand: the finding's own values
        before, after = change.baseline, change.actual
        if match.group("field") is not None:
            before = None if before is None else {match.group("field"): before}
            after = None if after is None else {match.group("field"): after}
    if not isinstance(before, dict):  # only the checked side has it
        if not isinstance(after, dict):
            return []
        flag = "--remove-secrets" if "secret" in after else "--remove-env-vars"
        return _update(*container, f"{flag}={name}")
    if "secret" in before:
        reference = _secret_reference(change, before)
        return _update(*container, _list_flag("--update-secrets", [f"{name}={reference}"]))
    value = before.get("value")
    if is_redacted(value) or _scalar(value) is None:
        return []
    return _update(*container, _list_flag("--update-env-vars", [f"{name}={_scalar(value)}"]))


def _variable(
    resources: Mapping[str, Any], change: Change, match: re.Match[str]
) -> dict[str, Any] | None:
    """The whole variable the change is about, in one snapshot's resources."""
    body = resources.get(change.resource)
    if not isinstance(body, dict):
        return None
    containers = (body.get("template") or {}).get("containers") or {}
    variable = ((containers.get(match.group("c")) or {}).get("env") or {}).get(match.group("name"))
    return variable if isinstance(variable, dict) else None


def _secret_reference(change: Change, variable: Mapping[str, Any]) -> str:
    """``secret:version`` to pin; across environments a pinned number is the checked
    environment's newest enabled version (the baseline's number means nothing there)."""
    secret, version = str(variable.get("secret")), str(variable.get("version") or "latest")
    if version.isdigit() and change.cross_environment:
        version = newest_enabled_version(change.checked, secret) or "latest"
    return f"{secret}:{version}"


def newest_enabled_version(checked: Mapping[str, Any], secret: str) -> str | None:
    """The newest enabled version of ``secret`` in the checked environment, if it was read."""
    body = checked.get(f"secret/{secret}")
    if not isinstance(body, dict):
        return None
    version = (body.get("latest") or {}).get("version")
    return str(version) if version is not None else None


# Violations ---------------------------------------------------------------------------------------
_REFERENCE = re.compile(
    r"references\.(?P<service>service/[^:]+):containers\.(?P<c>[^.]+)\.env\.(?P<name>.+)"
)


def unusable_secret_version(change: Change) -> list[Fix]:
    """Pin the referencing service to the secret's newest enabled version."""
    match = _REFERENCE.fullmatch(change.path)
    secret = change.resource.removeprefix("secret/")
    version = newest_enabled_version(change.checked, secret)
    if match is None or version is None:
        return []
    flags = (
        *_container_flag(match.group("c")),
        _list_flag("--update-secrets", [f"{match.group('name')}={secret}:{version}"]),
    )
    return [Fix(SERVICE_UPDATE, flags, target=match.group("service"))]


def describe(value: Any) -> str:
    """A value as a remedy note quotes it."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
