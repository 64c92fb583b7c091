"""Memorystore for Redis instances through google-cloud-redis's ``CloudRedisClient``.

One paginated ``list_instances`` per collected region (under the (redis, project, region) rate
limiter, with the bounded retry policy), made as the environment's reading starts; instances are
kept when the config lists them (``dependencies.redis``; omitted: all) or a workload reaches
them. Each reference a workload's env var makes (``dependencies.references``) is matched by
address to an instance, never by comparing addresses across environments; one that matches none
gets an ``exists: false`` body keyed by the address it names, once one listing of every region
(``locations/-``, made only then) shows that no instance of a region not read holds it either.
``get_auth_string`` (the AUTH password) is never called.
"""

from __future__ import annotations

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
from driftcheck.kinds.redis.normalize import normalize_redis
from driftcheck.model import CollectionErrorRecord
from driftcheck.protodict import message_dict
from driftcheck.sensitive import Redactor

SOURCE = "redis.googleapis.com"
# Per region alias: its instances by short name (None: the listing failed), and the failures.
RegionListings = dict[str, tuple[dict[str, dict[str, Any]] | None, list[CollectionErrorRecord]]]
LIST_PERMISSION = Permission("redis.instances.list", "roles/redis.viewer")


class RedisCollector(ApiCollector):
    """Lists the Redis instances of an environment's regions and joins the references to them."""

    source = SOURCE

    def collect(
        self,
        env: Environment,
        references: list[Reference],
        listings: RegionListings | None = None,
    ) -> CollectorResult:
        """``redis/<alias>/<name>`` per kept instance, and one per address reaching nothing
        (``listings``: the regions' listings when they were made already)."""
        result = CollectorResult()
        if listings is None:
            listings = self.list_regions(env)
        listed: dict[str, dict[str, dict[str, Any]] | None] = {}
        for alias, (found, failures) in listings.items():
            listed[alias] = found
            result.errors.extend(failures)
        wanted = env.dependencies.redis if env.dependencies else None
        bodies: dict[str, dict[str, Any]] = {}
        instances: list[tuple[str, dict[str, Any]]] = []
        for alias, found in listed.items():
            neutral = Neutralizer(
                project=env.project,
                region=env.region_map[alias],
                project_number=env.project_number,
                name_map=env.name_map,
            )
            for name, raw in sorted((found or {}).items()):
                key = resource_key("redis", neutral(name), alias)
                bodies[key] = normalize_redis(raw, neutral, Redactor(self._fingerprints))
                instances.append((key, raw))
        reached: set[str] = set()
        # A DNS name: which instance it resolves to is not in any API. A reference from a
        # region that could not be listed: nothing is known.
        addresses = [
            r
            for r in references
            if r.host is not None and is_address(r.host) and listed.get(r.alias) is not None
        ]
        elsewhere = self._elsewhere(env, instances, addresses, result.errors)
        for reference in addresses:
            match = _instance_at(instances, reference)
            if match is None:
                if elsewhere is None or _instance_at(elsewhere, reference) is not None:
                    continue  # an instance of a region not read, or nothing is known
                key = resource_key("redis", str(reference.host), reference.alias)
                bodies.setdefault(key, {"exists": False})
            else:
                key = match
            attach(bodies, key, reference)
            reached.add(key)
        for key, body in bodies.items():
            name = key.rsplit("/", 1)[-1]
            if key in reached or wanted is None or name in wanted:
                result.resources[key] = body
        result.errors.extend(_configured_missing(env, wanted, listed, result.resources))
        return result

    def _elsewhere(
        self,
        env: Environment,
        instances: list[tuple[str, dict[str, Any]]],
        references: list[Reference],
        errors: list[CollectionErrorRecord],
    ) -> list[tuple[str, dict[str, Any]]] | None:
        """When an address matches no instance of the regions read, the instances of every
        region (one ``locations/-`` listing): a VPC network is global, so a service may reach
        an instance of a region the environment does not read. None when it failed (recorded
        for each address it had to tell about)."""
        unmatched = _unmatched(instances, references)
        if not unmatched:
            return []
        failed: list[CollectionErrorRecord] = []
        found = self._list(env, "-", "-", failed)
        if found is None:
            where = sorted({f"redis/{r.alias}/{r.host}" for r in unmatched})
            errors.extend(failed[0].model_copy(update={"resource": key}) for key in where)
            return None
        return sorted(found.items())

    def list_regions(self, env: Environment) -> RegionListings:
        """The instances of each of ``env``'s regions by alias (None where the listing failed),
        with the failures recorded."""
        listings: RegionListings = {}
        for alias, region in env.region_map.items():
            failures: list[CollectionErrorRecord] = []
            listings[alias] = (self._list(env, alias, region, failures), failures)
        return listings

    def _list(
        self, env: Environment, alias: str, region: str, errors: list[CollectionErrorRecord]
    ) -> dict[str, dict[str, Any]] | None:
        """The instances of one region by short name; None when the listing failed."""
        limiter = self._workers.limits.limiter("redis", env.project, region)

        def listing() -> dict[str, dict[str, Any]]:
            parent = f"projects/{env.project}/locations/{region}"
            pager = self.call(limiter, self._client.list_instances, request={"parent": parent})
            found: dict[str, dict[str, Any]] = {}
            for page in pages(pager, limiter, self._workers.slots):
                if page.unreachable:
                    # Every region at once (locations/-) but some: what they hold is unknown.
                    from google.api_core.exceptions import ServiceUnavailable

                    regions = ", ".join(str(r) for r in page.unreachable[:5])
                    raise ServiceUnavailable(f"Memorystore could not reach {regions}")
                for instance in page.instances:
                    # Every region's (locations/-): one name may be taken in several.
                    name = instance.name if region == "-" else instance.name.rsplit("/", 1)[-1]
                    found[name] = message_dict(instance)
            return found

        return guarded(
            listing,
            source=SOURCE,
            resource=f"redis/{alias}/*",
            errors=errors,
            permission=LIST_PERMISSION,
        )


def _unmatched(
    instances: list[tuple[str, dict[str, Any]]], references: list[Reference]
) -> list[Reference]:
    return [r for r in references if _instance_at(instances, r) is None]


def _instance_at(instances: list[tuple[str, dict[str, Any]]], reference: Reference) -> str | None:
    """The instance whose primary or read endpoint is the reference's address (and port)."""
    for key, raw in instances:
        endpoints = {
            (raw.get("host"), raw.get("port") or 6379),
            (raw.get("read_endpoint"), raw.get("read_endpoint_port") or 6379),
        }
        for host, port in endpoints:
            if host and host == reference.host and reference.port in (None, port):
                return key
    return None


def _configured_missing(
    env: Environment,
    wanted: list[str] | None,
    listed: Mapping[str, Any],
    kept: Mapping[str, Any],
) -> list[CollectionErrorRecord]:
    """A configured instance found in no region (once every region was listed)."""
    if wanted is None or any(found is None for found in listed.values()):
        return []
    names = {key.rsplit("/", 1)[-1] for key in kept}
    return [
        CollectionErrorRecord(
            source=SOURCE,
            resource=f"redis/*/{name}",
            message=f"configured Redis instance {name} not found in {env.project} "
            f"({', '.join(env.region_map.values())})",
        )
        for name in sorted(set(wanted) - names)
    ]


def early_redis(context: CollectionContext, env: Environment) -> Prefetch[RegionListings]:
    """The regions' instances, listed as the environment's reading starts (see ``Prefetch``)
    when ``env`` reads dependencies."""
    if env.dependencies is None:
        return Prefetch(None, context.workers.slots)
    context.clients.announce("redis")
    return Prefetch(lambda: _collector(context).list_regions(env), context.workers.slots)


def collect_redis(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The Redis instances of the environment's regions, joined to the workloads reaching them."""
    if request.env.dependencies is None:
        return CollectorResult()
    references = workload_references(request.upstream.resources, request.env, "redis")
    listings = prefetched(request.early.get("redis"))
    return _collector(context).collect(request.env, references, listings)


def _collector(context: CollectionContext) -> RedisCollector:
    return RedisCollector(
        context.clients.client("redis"), context.settings, context.fingerprints, context.workers
    )
