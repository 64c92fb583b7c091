"""How collected workloads reach what lies behind their VPC, shared by the ``redis`` and ``sql``
kinds: the references their env vars make (a host, ``host:port``, a URL or a Cloud SQL
connection name), the network their egress uses (a connector's, or Direct VPC), and the
violations judged on them.

A dependency's body keeps ``used_by`` (the references that reach it: compared across
environments, so what differs is *which* instance a service reaches, never its address) and
``reach`` (per reference: what it names, how it egresses; judged here, not compared). A
reference that reaches no instance gets a body of its own, ``exists: false``, keyed by what it
names, like a secret that does not exist.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from driftcheck.config import Environment
from driftcheck.identity import PROJECT, IdentityContext
from driftcheck.model import Finding, Severity
from driftcheck.violations import violation

WORKLOADS = ("service/", "job/", "worker-pool/")
_CLOUDSQL_SOCKET = re.compile(r"/cloudsql/(?P<name>[A-Za-z0-9.:-]+:[a-z0-9-]+:[a-z0-9-]+)")
_CONNECTION = re.compile(
    r"^(?P<project>[A-Za-z0-9.:-]*[A-Za-z0-9]):(?P<region>[a-z0-9-]+):"
    r"(?P<instance>[a-z0-9-]+)$"
)
_CONNECTOR = re.compile(r"projects/(?P<project>[^/]+)/locations/[^/]+/connectors/(?P<name>[^/]+)$")
_NETWORK = re.compile(r"projects/(?P<project>[^/]+)/global/networks/(?P<name>[^/]+)$")


@dataclass(frozen=True)
class Egress:
    """How a workload's traffic to private addresses leaves: ``via`` (``connector:<name>``,
    ``direct-vpc`` or ``none``) onto ``network`` (neutral path; None when unknown)."""

    via: str
    network: str | None


@dataclass(frozen=True)
class Reference:
    """One env var of one workload naming a dependency."""

    workload: str
    alias: str
    container: str
    variable: str
    target: str
    host: str | None
    port: int | None
    connection: tuple[str, str, str] | None
    egress: Egress
    max_instances: int | None
    pool_size: int | None

    @property
    def where(self) -> str:
        """``<workload key>:containers.<c>.env.<VAR>``, as secret references are named."""
        return f"{self.workload}:containers.{self.container}.env.{self.variable}"

    def reach(self) -> dict[str, Any]:
        """What the body keeps about this reference (judged, never compared)."""
        return {
            "variable": self.variable,
            "target": self.target,
            "via": self.egress.via,
            "network": self.egress.network,
            "by": "connection-name" if self.connection else "address",
        }


def network_path(value: str, project: str = PROJECT) -> str:
    """A VPC network as ``projects/<p>/global/networks/<n>``, from a full path, a URL or a bare
    name (of ``project``)."""
    match = _NETWORK.search(value)
    if match:
        return f"projects/{match['project']}/global/networks/{match['name']}"
    return f"projects/{project}/global/networks/{value.rsplit('/', 1)[-1]}"


def connector_key(alias: str, reference: str) -> str:
    """Snapshot key of the connector a workload names (a path or a bare name): its own project's
    are ``connector/<alias>/<name>``, another project's ``connector/<alias>/<project>/<name>``."""
    match = _CONNECTOR.search(reference)
    if match is None:
        return f"connector/{alias}/{reference.rsplit('/', 1)[-1]}"
    if match["project"] == PROJECT:
        return f"connector/{alias}/{match['name']}"
    return f"connector/{alias}/{match['project']}/{match['name']}"


def parse_target(value: str) -> tuple[str | None, int | None, tuple[str, str, str] | None]:
    """(host, port, connection name) that a reference's value names."""
    socket = _CLOUDSQL_SOCKET.search(value)
    if socket:
        return None, None, _split_connection(socket["name"])
    connection = _CONNECTION.match(value)
    if connection and not _is_address(value.rsplit(":", 1)[0]):
        return None, None, _split_connection(value)
    text = value if "://" in value else f"//{value}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None, None, None
    return parts.hostname or None, port, None


def _split_connection(name: str) -> tuple[str, str, str]:
    project, region, instance = name.rsplit(":", 2)
    return project, region, instance


def _is_address(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


def is_address(host: str | None) -> bool:
    """Whether ``host`` is an IP address (a DNS name cannot be matched to an instance)."""
    return _is_address(host)


def workload_references(
    resources: Mapping[str, Mapping[str, Any]], env: Environment, kind: str
) -> list[Reference]:
    """Every reference of kind ``kind`` that collected workloads make, by its literal value."""
    deps = env.dependencies
    if deps is None:
        return []
    identity = IdentityContext(env.project, env.project_number, env.region_map, env.name_map)
    found: list[Reference] = []
    for key, body in sorted(resources.items()):
        template = body.get("template")
        if not key.startswith(WORKLOADS) or not isinstance(template, dict):
            continue
        alias = key.split("/")[1]
        egress = workload_egress(template, alias, resources)
        scaling = template.get("scaling") or {}
        for container, spec in sorted((template.get("containers") or {}).items()):
            variables = spec.get("env") or {}
            pool = _plain(variables.get(deps.pool_size_env))
            for variable, setting in sorted(variables.items()):
                value = _plain(setting)
                if deps.references.get(variable) != kind or value is None:
                    continue
                spelt = literal(value, identity, alias)
                host, port, connection = parse_target(spelt)
                found.append(
                    Reference(
                        workload=key,
                        alias=alias,
                        container=container,
                        variable=variable,
                        target=spelt,
                        host=host,
                        port=port,
                        connection=connection,
                        egress=egress,
                        max_instances=_int(scaling.get("max_instance_count")),
                        pool_size=_int(pool),
                    )
                )
    return found


def _plain(setting: Any) -> str | None:
    """A variable's value when it is set in clear (a secret reference or a redacted value is
    never parsed: driftcheck does not read what it does not keep)."""
    value = setting.get("value") if isinstance(setting, dict) else None
    return value if isinstance(value, str) else None


def literal(value: str, identity: IdentityContext, alias: str) -> str:
    """How a neutral value was spelt: by project id rather than number, where both fit."""
    spellings = sorted(s for s in identity.spellings(value, alias) if "${" not in s)
    by_id = [s for s in spellings if identity.project in s]
    return (by_id or spellings or [value])[0]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def workload_egress(
    template: Mapping[str, Any], alias: str, resources: Mapping[str, Mapping[str, Any]]
) -> Egress:
    """The network a workload's private traffic uses, from its connector's body (collected in an
    earlier stage) or its Direct VPC interface."""
    access = template.get("vpc_access") or {}
    connector = access.get("connector")
    if isinstance(connector, str) and connector:
        key = connector_key(alias, connector)
        body = resources.get(key) or {}
        network = body.get("network") if body.get("exists") else None
        return Egress(f"connector:{key.rsplit('/', 1)[-1]}", network)
    interfaces = access.get("network_interfaces")
    if isinstance(interfaces, list) and interfaces:
        first = interfaces[0] if isinstance(interfaces[0], dict) else {}
        network = first.get("network")
        return Egress("direct-vpc", network_path(network) if network else None)
    return Egress("none", None)


def attach(bodies: dict[str, dict[str, Any]], key: str, reference: Reference) -> dict[str, Any]:
    """Record ``reference`` on the body at ``key`` (``used_by`` and ``reach``)."""
    body = bodies[key]
    # Kept sorted as it grows: re-sorting the whole list on each reference made 50,000
    # services that reach one instance quadratic.
    used: list[str] = body.setdefault("used_by", [])
    at = bisect_left(used, reference.where)
    if at == len(used) or used[at] != reference.where:
        used.insert(at, reference.where)
    body.setdefault("reach", {})[reference.where] = reference.reach()
    return body


def unresolved(kind: str, reference: Reference, target: str) -> tuple[str, dict[str, Any]]:
    """Key and body of what a reference names when no instance is it."""
    return f"{kind}/{reference.alias}/{target}", {"exists": False}


def reference_violations(
    environment: str,
    resource: str,
    body: Mapping[str, Any],
    noun: str,
    ready: str,
    network: str | None,
) -> Iterable[Finding]:
    """A reference to no instance, or to one that is not ``ready`` (critical); a reference over
    a network that is not the instance's ``network`` (high)."""
    name = resource.split("/", 2)[2]
    yield from _not_ready(environment, resource, body, noun, ready)
    for where, reach in sorted((body.get("reach") or {}).items()):
        workload, _, path = where.partition(":")
        short = workload.rsplit("/", 1)[-1]
        variable = reach.get("variable")
        if not body.get("exists", True):
            yield violation(
                workload,
                f"template.{path}.value",
                Severity.CRITICAL,
                f"{noun.lower().replace(' ', '-')}-reference-unresolved",
                f"{variable} of {short} points at {reach.get('target')}, which is no {noun} "
                f"instance in {environment}",
                actual=reach.get("target"),
            )
            continue
        # Not ready is one violation on the instance (above); a wrong network is another fact.
        yield from _network_violation(resource, network, where, reach, short, noun, name)


def _not_ready(
    environment: str, resource: str, body: Mapping[str, Any], noun: str, ready: str
) -> Iterable[Finding]:
    """An instance that services reach and that is not ``ready``: one violation on its state,
    so that it and the state that differs from the baseline's are one finding."""
    reaches = sorted((body.get("reach") or {}).items())
    state = str(body.get("state") or "")
    if not body.get("exists", True) or not reaches or state == ready:
        return
    name = resource.split("/", 2)[2]
    users = ", ".join(
        f"{where.partition(':')[0].rsplit('/', 1)[-1]} ({reach.get('variable')})"
        for where, reach in reaches
    )
    yield violation(
        resource,
        "state",
        Severity.CRITICAL,
        f"{noun.lower().replace(' ', '-')}-reference-not-ready",
        f"{noun} instance {name}, which {users} point{'s' if len(reaches) == 1 else ''} at, is "
        f"{state.upper() or 'in an unknown state'} (not {ready.upper()}) in {environment}",
        actual=state,
    )


def _network_violation(
    resource: str,
    expected: str | None,
    where: str,
    reach: Mapping[str, Any],
    short: str,
    noun: str,
    name: str,
) -> Iterable[Finding]:
    via, network = reach.get("via"), reach.get("network")
    # A connection name goes through the Cloud SQL connector, not a private address.
    if not expected or reach.get("by") == "connection-name":
        return
    if via == "none":
        how = "has no VPC egress (no connector, no Direct VPC)"
    elif network is None or network == expected:
        return  # unknown (the connector could not be read) or the right network
    else:
        how = f"egresses {str(via).replace(':', ' ')} onto {network}"
    yield violation(
        resource,
        f"reach.{where}",
        Severity.HIGH,
        f"{noun.lower().replace(' ', '-')}-network-mismatch",
        f"{short} reaches {noun} instance {name} ({reach.get('variable')}) but {how}, while "
        f"the instance is on {expected}",
        actual={"via": via, "network": network, "instance_network": expected},
    )
