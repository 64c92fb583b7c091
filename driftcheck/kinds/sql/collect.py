"""Cloud SQL instances through the Cloud SQL Admin REST API (see ``rest``: google-cloud-sql has no
REST transport).

One paginated ``instances.list`` per project (under the (sqladmin, project) rate limiter, with
the bounded retry policy), made as the environment's reading starts; instances of the
environment's regions are kept when the config lists them (``dependencies.sql``; omitted: all)
or a workload reaches them. A reference (a private IP, a DNS name the API reports, or a
connection name ``project:region:instance``) is matched to an instance; one that matches none
gets an ``exists: false`` body (an instance of a region not read is matched too: it exists,
though it is not judged). Per instance, the collector writes the connection budget:
``max_connections`` (the flag, or PostgreSQL's default for the tier) against max instances ×
pool size of each workload that reaches it. Users, passwords and certificates are never read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
from driftcheck.identity import Neutralizer, resource_key
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.reach import Reference, attach, is_address, workload_references
from driftcheck.kinds.sql.normalize import normalize_sql
from driftcheck.model import CollectionErrorRecord
from driftcheck.protodict import message_dict
from driftcheck.sensitive import Redactor

SOURCE = "sqladmin.googleapis.com"
# A project's instances (None: the listing failed), and the failures.
Listing = tuple[list[dict[str, Any]] | None, list[CollectionErrorRecord]]
LIST_PERMISSION = Permission("cloudsql.instances.list", "roles/cloudsql.viewer")
_CUSTOM_TIER = re.compile(r"^db-custom-(?P<cpus>[0-9]+)-(?P<mb>[0-9]+)$")
# PostgreSQL's max_connections default on Cloud SQL, by the tier's memory (GB): the smallest
# bound that the memory is below. Shared-core tiers have their own.
_SHARED_CORE = {"db-f1-micro": 25, "db-g1-small": 50}
_BY_MEMORY = ((6, 100), (7.5, 200), (15, 400), (30, 500), (60, 600), (120, 800))


def default_max_connections(version: str, tier: str) -> int | None:
    """PostgreSQL's default ``max_connections`` for ``tier``; None when it cannot be told (a
    MySQL or SQL Server instance, a predefined machine tier)."""
    if not version.startswith("postgres"):
        return None
    if tier in _SHARED_CORE:
        return _SHARED_CORE[tier]
    match = _CUSTOM_TIER.match(tier)
    if match is None:
        return None
    memory = int(match["mb"]) / 1024
    return next((limit for bound, limit in _BY_MEMORY if memory < bound), 1000)


def connection_budget(body: Mapping[str, Any], users: list[Reference]) -> dict[str, Any]:
    """``max_connections`` and where it comes from, and each workload's share (max instances ×
    pool size; a workload counted once however many variables name the instance)."""
    settings = body.get("settings") or {}
    flag = (settings.get("database_flags") or {}).get("max_connections")
    limit: int | None = int(flag) if isinstance(flag, str) and flag.isdigit() else None
    source = "flag"
    if limit is None:
        limit = default_max_connections(
            str(body.get("database_version") or ""), str(settings.get("tier") or "")
        )
        source = "tier default"
    demand: dict[str, Any] = {}
    for reference in users:
        demand.setdefault(
            reference.workload,
            {"max_instances": reference.max_instances, "pool_size": reference.pool_size},
        )
    return {
        "max_connections": limit,
        "from": source if limit is not None else None,
        "demand": demand,
    }


class SqlCollector(ApiCollector):
    """Lists a project's Cloud SQL instances and joins the references to them."""

    source = SOURCE

    def collect(
        self,
        env: Environment,
        references: list[Reference],
        listing: Listing | None = None,
    ) -> CollectorResult:
        """``sql/<alias>/<name>`` per kept instance, and one per reference reaching nothing
        (``listing``: the project's, when it was made already)."""
        result = CollectorResult()
        listed, failures = listing if listing is not None else self.list_project(env)
        result.errors.extend(failures)
        if listed is None:
            return result
        aliases = {region: alias for alias, region in env.region_map.items()}
        wanted = env.dependencies.sql if env.dependencies else None
        bodies: dict[str, dict[str, Any]] = {}
        instances: list[tuple[str, dict[str, Any]]] = []
        # The listing holds every region's: an instance elsewhere (one primary for services in
        # every region) is not judged, but a reference to it reaches an instance all the same.
        elsewhere: list[tuple[str, dict[str, Any]]] = []
        for raw in listed:
            alias = aliases.get(str(raw.get("region")))
            if alias is None:
                elsewhere.append((str(raw.get("name")), raw))
                continue  # a region this environment does not read
            neutral = Neutralizer(
                project=env.project,
                region=env.region_map[alias],
                project_number=env.project_number,
                name_map=env.name_map,
            )
            key = resource_key("sql", neutral(str(raw.get("name"))), alias)
            bodies[key] = normalize_sql(raw, neutral, Redactor(self._fingerprints))
            instances.append((key, raw))
        users: dict[str, list[Reference]] = {}
        for reference in references:
            found = _instance_for(instances, reference, env)
            if found is None and _instance_for(elsewhere, reference, env) is not None:
                continue  # an instance of a region not read: it exists, it is not judged
            if found is None:
                target = _unresolved_name(reference, env)
                if target is None:
                    continue  # a DNS name or another project's instance: not verifiable here
                key = resource_key("sql", target, reference.alias)
                bodies.setdefault(key, {"exists": False})
            else:
                key = found
            attach(bodies, key, reference)
            users.setdefault(key, []).append(reference)
        for key, body in sorted(bodies.items()):
            name = key.rsplit("/", 1)[-1]
            if key in users or wanted is None or name in wanted:
                if body.get("exists"):
                    body["connections"] = connection_budget(body, users.get(key, []))
                result.resources[key] = body
        for name in sorted(set(wanted or []) - {k.rsplit("/", 1)[-1] for k in result.resources}):
            result.errors.append(
                CollectionErrorRecord(
                    source=SOURCE,
                    resource=f"sql/*/{name}",
                    message=f"configured Cloud SQL instance {name} not found in {env.project} "
                    f"({', '.join(env.region_map.values())})",
                )
            )
        return result

    def list_project(self, env: Environment) -> Listing:
        """Every instance of ``env``'s project (None when the listing failed), with the failure
        recorded."""
        failures: list[CollectionErrorRecord] = []
        return self._list(env, failures), failures

    def _list(
        self, env: Environment, errors: list[CollectionErrorRecord]
    ) -> list[dict[str, Any]] | None:
        """Every instance of the project; None when the listing failed."""
        limiter = self._workers.limits.limiter("sqladmin", env.project)

        def listing() -> list[dict[str, Any]]:
            pager = self.call(
                limiter, self._client.list_instances, request={"project": env.project}
            )
            return [
                message_dict(instance)
                for page in pages(pager, limiter, self._workers.slots)
                for instance in page.items
            ]

        return guarded(
            listing, source=SOURCE, resource="sql/*", errors=errors, permission=LIST_PERMISSION
        )


def _instance_for(
    instances: list[tuple[str, dict[str, Any]]], reference: Reference, env: Environment
) -> str | None:
    for key, raw in instances:
        if reference.connection is not None:
            project, region, name = reference.connection
            if (project, region, name) == (env.project, raw.get("region"), raw.get("name")):
                return key
            continue
        addresses = {str(a.get("ip_address")) for a in raw.get("ip_addresses") or []}
        addresses |= {str(raw.get(n)) for n in ("dns_name", "primary_dns_name") if raw.get(n)}
        if reference.host is not None and reference.host in addresses:
            return key
    return None


def _unresolved_name(reference: Reference, env: Environment) -> str | None:
    """What an unmatched reference names: an instance of this project, or an IP address."""
    if reference.connection is not None:
        project, _region, name = reference.connection
        return name if project == env.project else None
    return reference.host if is_address(reference.host) else None


def early_sql(context: CollectionContext, env: Environment) -> Prefetch[Listing]:
    """The project's instances, listed as the environment's reading starts (see ``Prefetch``)
    when ``env`` reads dependencies."""
    if env.dependencies is None:
        return Prefetch(None, context.workers.slots)
    context.clients.announce("sqladmin")
    return Prefetch(lambda: _collector(context).list_project(env), context.workers.slots)


def collect_sql(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The Cloud SQL instances of the environment's regions, joined to the workloads using them."""
    if request.env.dependencies is None:
        return CollectorResult()
    references = workload_references(request.upstream.resources, request.env, "sql")
    listing = prefetched(request.early.get("sql"))
    return _collector(context).collect(request.env, references, listing)


def _collector(context: CollectionContext) -> SqlCollector:
    return SqlCollector(
        context.clients.client("sqladmin"), context.settings, context.fingerprints, context.workers
    )
