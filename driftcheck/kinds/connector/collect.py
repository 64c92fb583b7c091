"""Serverless VPC Access connectors through google-cloud-vpc-access's ``VpcAccessServiceClient``.

Read: the connectors that collected workloads egress through, and those the config lists
(``dependencies.connectors``). One paginated ``list_connectors`` per (project, region) that holds
one, under the (vpcaccess, project, region) rate limiter with the bounded retry policy. A
connector a workload names and the listing lacks is recorded ``exists: false``; a listing that
failed is a collection error, and its connectors are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftcheck.collectors.interface import (
    ApiCollector,
    CollectionContext,
    CollectorResult,
    Permission,
    Prefetch,
    guarded,
    pages,
    prefetched,
)
from driftcheck.config import Environment
from driftcheck.identity import IdentityContext, Neutralizer
from driftcheck.kinds.connector.normalize import normalize_connector
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.reach import WORKLOADS, connector_key, literal
from driftcheck.model import CollectionErrorRecord
from driftcheck.protodict import message_dict

SOURCE = "vpcaccess.googleapis.com"
LIST_PERMISSION = Permission("vpcaccess.connectors.list", "roles/vpcaccess.viewer")
# Per (project, region): its connectors by short name (None: the listing failed), and the
# failures.
Listings = dict[tuple[str, str], tuple[dict[str, Any] | None, list[CollectionErrorRecord]]]


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
    regions = env.region_map
    for key, body in sorted(resources.items()):
        template = body.get("template")
        if not key.startswith(WORKLOADS) or not isinstance(template, dict):
            continue
        reference = (template.get("vpc_access") or {}).get("connector")
        if not isinstance(reference, str) or not reference:
            continue
        alias = key.split("/")[1]
        parts = literal(reference, identity, alias).split("/")
        if len(parts) == 6 and parts[0] == "projects" and parts[4] == "connectors":
            target = (parts[1], parts[3], parts[5])
        else:
            target = (env.project, regions[alias], parts[-1])
        ckey = connector_key(alias, reference)
        plan.wanted[ckey] = target
        plan.users.setdefault(ckey, set()).add(key)
    for name in env.dependencies.connectors if env.dependencies else []:
        for alias, region in regions.items():
            ckey = f"connector/{alias}/{name}"
            plan.wanted.setdefault(ckey, (env.project, region, name))
            plan.configured.add(ckey)
    return plan


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

    def list_regions(self, env: Environment) -> Listings:
        """The connectors of each of ``env``'s regions in its own project."""
        return {
            (env.project, region): self.list_one(env.project, region, env)
            for region in env.region_map.values()
        }

    def list_one(
        self, project: str, region: str, env: Environment
    ) -> tuple[dict[str, Any] | None, list[CollectionErrorRecord]]:
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


def early_connectors(context: CollectionContext, env: Environment) -> Prefetch[Listings]:
    """The connectors of the environment's own regions, listed as its reading starts (see
    ``Prefetch``) when it reads dependencies; a listing no workload and no configured
    connector needs is left unused, its failure too."""
    if env.dependencies is None:
        return Prefetch(None)
    return Prefetch(lambda: _collector(context).list_regions(env))


def collect_connectors(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The connectors that collected workloads use, and those the config lists."""
    if request.env.dependencies is None:
        return CollectorResult()
    plan = plan_connectors(request.upstream.resources, request.env)
    if not plan.wanted:
        return CollectorResult()
    listings = prefetched(request.early.get("connector"))
    return _collector(context).collect(request.env, plan, listings)


def _collector(context: CollectionContext) -> ConnectorCollector:
    return ConnectorCollector(
        context.clients.client("vpcaccess"), context.settings, context.fingerprints, context.workers
    )
