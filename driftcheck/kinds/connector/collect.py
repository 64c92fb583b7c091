"""Serverless VPC Access connectors through google-cloud-vpc-access's ``VpcAccessServiceClient``.

Read: the connectors that collected workloads egress through, and those the config lists
(``dependencies.connectors``). One paginated ``list_connectors`` per (project, region) that holds
one, under the (vpcaccess, project, region) rate limiter with the bounded retry policy, started
as soon as the first workload naming one of its connectors is read (a configured connector's at
once) while the other workloads are still read. A connector a workload names and the listing
lacks is recorded ``exists: false``; a listing that failed is a collection error, and its
connectors are not judged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from driftcheck.collectors.interface import (
    ApiCollector,
    CollectionContext,
    CollectorResult,
    Permission,
    guarded,
    pages,
)
from driftcheck.concurrency import DaemonPool
from driftcheck.config import Environment
from driftcheck.identity import IdentityContext, Neutralizer
from driftcheck.kinds.connector.normalize import normalize_connector
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.reach import WORKLOADS, connector_key, literal
from driftcheck.model import CollectionErrorRecord
from driftcheck.protodict import message_dict

SOURCE = "vpcaccess.googleapis.com"
LIST_PERMISSION = Permission("vpcaccess.connectors.list", "roles/vpcaccess.viewer")
LISTING_THREADS = 4
# One (project, region)'s connectors by short name (None: the listing failed), and the failures.
Listed = tuple[dict[str, Any] | None, list[CollectionErrorRecord]]
Listings = dict[tuple[str, str], Listed]


@dataclass
class ConnectorPlan:
    """Connectors to read: snapshot key -> (project, region, name) as really spelt, and users."""

    wanted: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    users: dict[str, set[str]] = field(default_factory=dict)
    configured: set[str] = field(default_factory=set)

    def listings(self) -> list[tuple[str, str]]:
        """Every (project, region) to list."""
        return sorted({(project, region) for project, region, _name in self.wanted.values()})


def plan_connectors(resources: Mapping[str, Mapping[str, Any]], env: Environment) -> ConnectorPlan:
    """The connectors workloads name (by their literal path) and those the config lists."""
    plan = ConnectorPlan()
    identity = IdentityContext(env.project, env.project_number, env.region_map, env.name_map)
    for key, body in sorted(resources.items()):
        named = named_connector(key, body, env, identity)
        if named is None:
            continue
        ckey, target = named
        plan.wanted[ckey] = target
        plan.users.setdefault(ckey, set()).add(key)
    for ckey, target in configured_connectors(env).items():
        plan.wanted.setdefault(ckey, target)
        plan.configured.add(ckey)
    return plan


def named_connector(
    key: str, body: Mapping[str, Any], env: Environment, identity: IdentityContext
) -> tuple[str, tuple[str, str, str]] | None:
    """The connector a workload egresses through: its key, and (project, region, name) as really
    spelt; None for anything else."""
    template = body.get("template")
    if not key.startswith(WORKLOADS) or not isinstance(template, dict):
        return None
    reference = (template.get("vpc_access") or {}).get("connector")
    if not isinstance(reference, str) or not reference:
        return None
    alias = key.split("/")[1]
    parts = literal(reference, identity, alias).split("/")
    if len(parts) == 6 and parts[0] == "projects" and parts[4] == "connectors":
        target = (parts[1], parts[3], parts[5])
    else:
        target = (env.project, env.region_map[alias], parts[-1])
    return connector_key(alias, reference), target


def configured_connectors(env: Environment) -> dict[str, tuple[str, str, str]]:
    """The connectors the config lists, in each of the environment's regions."""
    return {
        f"connector/{alias}/{name}": (env.project, region, name)
        for name in (env.dependencies.connectors if env.dependencies else [])
        for alias, region in env.region_map.items()
    }


class ConnectorCollector(ApiCollector):
    """Lists connectors per (project, region) and keeps the planned ones."""

    source = SOURCE

    def collect(
        self, env: Environment, plan: ConnectorPlan, listings: Listings | None = None
    ) -> CollectorResult:
        """One ``connector/…`` body per planned connector whose listing succeeded
        (``listings``: those made already; the plan's others are made now)."""
        result = CollectorResult()
        listed: dict[tuple[str, str], dict[str, Any] | None] = {}
        for project, region in plan.listings():
            found, failures = (listings or {}).get((project, region)) or self.list_one(
                project, region, env
            )
            listed[(project, region)] = found
            result.errors.extend(failures)
        for ckey, (project, region, name) in sorted(plan.wanted.items()):
            found = listed.get((project, region))
            if found is None:
                continue  # the listing failed: recorded, not judged
            users = sorted(plan.users.get(ckey, set()))
            raw = found.get(name)
            if raw is None:
                if users:
                    result.resources[ckey] = {"exists": False, "used_by": users}
                continue
            neutral = Neutralizer(
                project=env.project,
                region=region,
                project_number=env.project_number,
                name_map=env.name_map,
            )
            body = normalize_connector(raw, neutral)
            if users:
                body["used_by"] = users
            result.resources[ckey] = body
        names = {key.rsplit("/", 1)[-1] for key in result.resources}
        for name in sorted({key.rsplit("/", 1)[-1] for key in plan.configured} - names):
            if all(listed.get((p, r)) is not None for p, r in plan.listings()):
                result.errors.append(
                    CollectionErrorRecord(
                        source=SOURCE,
                        resource=f"connector/*/{name}",
                        message=f"configured connector {name} not found in {env.project} "
                        f"({', '.join(env.region_map.values())})",
                    )
                )
        return result

    def list_one(self, project: str, region: str, env: Environment) -> Listed:
        """The connectors of one (project, region) (None when the listing failed), with the
        failure recorded."""
        failures: list[CollectionErrorRecord] = []
        return self._list(project, region, env, failures), failures

    def _list(
        self, project: str, region: str, env: Environment, errors: list[CollectionErrorRecord]
    ) -> dict[str, Any] | None:
        """Connectors of one (project, region) by short name; None when the listing failed."""
        limiter = self._workers.limits.limiter("vpcaccess", project, region)
        alias = next((a for a, r in env.region_map.items() if r == region), region)

        def listing() -> dict[str, Any]:
            parent = f"projects/{project}/locations/{region}"
            pager = self.call(limiter, self._client.list_connectors, request={"parent": parent})
            found: dict[str, Any] = {}
            for page in pages(pager, limiter, self._workers.slots):
                for connector in page.connectors:
                    raw = message_dict(connector)
                    found[connector.name.rsplit("/", 1)[-1]] = raw
            return found

        return guarded(
            listing,
            source=SOURCE,
            resource=f"connector/{alias}/*",
            errors=errors,
            permission=LIST_PERMISSION,
        )


class EarlyConnectorListings:
    """Connector listings started while the workloads are read (see ``ResourceKind.early``):
    each (project, region) as soon as the first workload egressing through one of its
    connectors is normalized, and those where the config lists connectors at once. Only what
    the plan needs is listed; the connectors stage takes them over."""

    def __init__(self, context: CollectionContext, env: Environment) -> None:
        self._context = context
        self._env = env
        self._identity = IdentityContext(
            env.project, env.project_number, env.region_map, env.name_map
        )
        self._started: dict[tuple[str, str], Future[Listed]] = {}
        self._lock = threading.Lock()
        # A few threads however many regions hold connectors (``regions: all``: dozens).
        self._pool: DaemonPool | None = None
        self._closed = False
        for project, region, _name in configured_connectors(env).values():
            self._start(project, region)

    def observe(self, key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
        """Start listing where the connector ``body`` egresses through lives, once."""
        if self._env.dependencies is None:
            return
        named = named_connector(key, body, self._env, self._identity)
        if named is not None:
            project, region, _name = named[1]
            self._start(project, region)

    def listings(self) -> Listings:
        """The listings started, once each is done (none is started after)."""
        with self._lock:
            started = dict(self._started)
            self._closed = True  # the connectors stage lists what it lacks itself
            if self._pool is not None:
                self._pool.shutdown(wait=False)  # its threads end once their listings are done
        return {where: future.result() for where, future in started.items()}

    def _start(self, project: str, region: str) -> None:
        with self._lock:
            if not self._closed and (project, region) not in self._started:
                if self._pool is None:
                    self._pool = DaemonPool(LISTING_THREADS, "driftcheck-connectors")
                env = self._env
                self._started[(project, region)] = self._pool.submit(
                    lambda: _collector(self._context).list_one(project, region, env)
                )


def collect_connectors(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The connectors that collected workloads use, and those the config lists."""
    if request.env.dependencies is None:
        return CollectorResult()
    plan = plan_connectors(request.upstream.resources, request.env)
    if not plan.wanted:
        return CollectorResult()
    early = request.early.get("connector")
    listings = early.listings() if isinstance(early, EarlyConnectorListings) else None
    return _collector(context).collect(request.env, plan, listings)


def _collector(context: CollectionContext) -> ConnectorCollector:
    return ConnectorCollector(
        context.clients.client("vpcaccess"), context.settings, context.fingerprints, context.workers
    )
