"""Cloud Run services, jobs and worker pools through google-cloud-run's ``run_v2`` clients.

What a kind reads is described by a :class:`RunResourceSpec`: its client, list method and
permissions. One list call per region and page (it returns whole resources, so none is fetched
again) and one ``get_iam_policy`` per resource. IAM calls start as soon as a page arrives, on the
shared worker pool; every call waits for its (project, region) rate limiter and goes through the
bounded retry policy. Failures become collection errors naming the region or service, and so do
gaps in what the config asks for: a configured service found in no region, a region with no
service at all (a misspelt region looks exactly like this).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from driftcheck.collectors.interface import (
    ApiCollector,
    CollectionContext,
    CollectorResult,
    Permission,
    guarded,
    pages,
)
from driftcheck.concurrency import RateLimiter, Workers, run_all
from driftcheck.config import ApiSettings, Environment
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer, resource_key
from driftcheck.kinds.cloud_run.unknown import (
    capturing,
    merge_unknown,
    page_items,
    redact_by_name,
)
from driftcheck.kinds.interface import CollectRequest, Observe
from driftcheck.model import CollectionErrorRecord
from driftcheck.normalize import Literals
from driftcheck.protodict import message_dict
from driftcheck.sensitive import Redactor, scrub

SOURCE = "run.googleapis.com"
ServiceResult = tuple[
    str,
    str,
    Any,
    dict[str, Any] | None,
    list[CollectionErrorRecord],
    dict[str, Any],
    dict[str, Any],
]
# A further read per resource (a service's serving revisions): given the collector (for its
# bounded ``call``), the limiter, the resource's key and its parsed form; what it returns joins
# the resource's raw form before normalizing, and its failures join ``errors``.
ExtraRead = Callable[
    ["CloudRunCollector", RateLimiter, str, Any, list[CollectionErrorRecord]], dict[str, Any]
]
Normalize = Callable[
    [dict[str, Any], dict[str, Any] | None, Neutralizer, Fingerprinter, Literals], dict[str, Any]
]


@dataclass(frozen=True)
class RunResourceSpec:
    """How one Cloud Run kind is listed: ``list_method`` of the client returns pages whose
    ``list_field`` holds the resources; ``noun`` names them in messages ("services")."""

    kind: str
    noun: str
    list_method: str
    list_field: str
    list_permission: Permission
    iam_permission: Permission
    normalize: Normalize
    # Which names the config asks for (None: every one); a name asked for and absent is a gap.
    configured: Callable[[Environment], list[str] | None] = lambda env: None
    # Services are the kind a project always has: a region without any is most likely misspelt.
    empty_region_is_gap: bool = False
    extra_read: ExtraRead | None = None


def service_key(alias: str, name: str) -> str:
    """Snapshot key of a service: ``service/<region alias>/<neutral name>``."""
    return resource_key("service", name, alias)


@dataclass
class RegionListing:
    """What listing one region produced: pending IAM reads, errors, and the names seen."""

    pending: list[Future[ServiceResult]] = field(default_factory=list)
    errors: list[CollectionErrorRecord] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    listed: bool = False


class CloudRunCollector(ApiCollector):
    """Reads the Cloud Run resources of one kind in one environment and normalizes them."""

    source = SOURCE

    def __init__(
        self,
        client: Any,
        spec: RunResourceSpec,
        settings: ApiSettings,
        fingerprints: Fingerprinter,
        workers: Workers,
    ) -> None:
        super().__init__(client, settings, fingerprints, workers)
        self._spec = spec

    def _key(self, alias: str, name: str) -> str:
        return resource_key(self._spec.kind, name, alias)

    def collect(self, env: Environment, observe: Observe | None = None) -> CollectorResult:
        """Every (or every configured) resource of the kind in every region of ``env``;
        ``observe`` is told of each as soon as it is normalized."""
        result = CollectorResult()
        regions = env.region_map
        neutrals = {
            alias: Neutralizer(
                project=env.project,
                region=region,
                project_number=env.project_number,
                name_map=env.name_map,
            )
            for alias, region in regions.items()
        }
        # Listing drives pagination (sequential by nature) in one thread per region; the calls
        # it spawns go to the shared pool, which these drivers never occupy.
        aliases = list(regions)
        results = run_all(
            (
                partial(self._list_region, env, alias, regions[alias], neutrals[alias])
                for alias in aliases
            ),
            "driftcheck-list",
        )
        listings = dict(zip(aliases, results, strict=True))
        for listing in listings.values():
            result.errors.extend(listing.errors)
        result.errors.extend(self._coverage_gaps(env, listings, neutrals))
        number = env.project_number or _project_number(listings)
        if number != env.project_number:
            # Cloud Run's deterministic URLs carry the project number: learnt, it is neutralized
            # like the id (default compute service accounts, secrets referenced by number).
            result.project_number = number
            neutrals = {
                alias: Neutralizer(
                    project=env.project, region=region, project_number=number, name_map=env.name_map
                )
                for alias, region in regions.items()
            }
        # Normalizing here, while later calls are still in flight, frees pool workers sooner.
        for listing in listings.values():
            for future in listing.pending:
                key, alias, service, iam, errors, sent, extra = future.result()
                raw = message_dict(service)
                added = merge_unknown(raw, sent, type(service).pb().DESCRIPTOR)
                redact_by_name(raw, added, Redactor(self._fingerprints))
                raw.update(extra)
                if key in result.resources:
                    # Two services, one neutral name: comparing either would hide the other.
                    result.errors.append(
                        CollectionErrorRecord(
                            source=SOURCE,
                            resource=key,
                            message=f"two {self._spec.noun} of {env.project} in "
                            f"{regions[alias]} have "
                            f"the neutral name {key}; make name_map tell them apart",
                        )
                    )
                    continue
                result.resources[key] = self._spec.normalize(
                    raw, iam, neutrals[alias], self._fingerprints, result.literals
                )
                if observe is not None:
                    observe(key, result.resources[key], result.literals)
                attribution = _attribution(raw)
                if attribution:
                    result.context[key] = attribution
                result.errors.extend(errors)
        return result

    def _coverage_gaps(
        self,
        env: Environment,
        listings: dict[str, RegionListing],
        neutrals: dict[str, Neutralizer],
    ) -> list[CollectionErrorRecord]:
        """Configured names found nowhere, and (for services) regions listed but empty."""
        gaps: list[CollectionErrorRecord] = []
        regions = env.region_map
        for alias, listing in sorted(listings.items()):
            # Regions listed as the project's (regions: all) may well be empty; named ones not.
            named = not env.discovers_regions
            if self._spec.empty_region_is_gap and named and listing.listed and not listing.seen:
                gaps.append(
                    CollectionErrorRecord(
                        source=SOURCE,
                        resource=self._key(alias, "*"),
                        message=f"region {regions[alias]} of {env.project} has no Cloud Run "
                        "service (is the region spelt right?)",
                    )
                )
        configured = self._spec.configured(env)
        if configured is None or any(not listing.listed for listing in listings.values()):
            return gaps
        listed = {
            alias: {neutrals[alias](seen) for seen in listing.seen}
            for alias, listing in listings.items()
        }
        nearby = sorted({seen for listing in listings.values() for seen in listing.seen})
        for name in sorted(set(configured)):
            if any(neutrals[alias](name) in names for alias, names in listed.items()):
                continue
            hint = f"; {self._spec.noun} there: {', '.join(nearby[:5])}" if nearby else ""
            if nearby and len(nearby) > 5:
                hint += ", …"
            gaps.append(
                CollectionErrorRecord(
                    source=SOURCE,
                    resource=self._key("*", name),
                    message=f"configured {self._spec.kind} {name} not found in {env.project} "
                    f"({', '.join(regions.values())}){hint}",
                )
            )
        return gaps

    def _list_region(
        self, env: Environment, alias: str, region: str, neutral: Neutralizer
    ) -> RegionListing:
        listing = RegionListing()
        limiter = self._workers.limits.limiter("run", env.project, region)
        progress = self._workers.progress.task(f"{env.project} {region}: {self._spec.noun}")

        def each_page() -> None:
            parent = f"projects/{env.project}/locations/{region}"
            method = getattr(self._client, self._spec.list_method)
            with capturing() as captured:
                # Urgent: the IAM reads of the page's resources wait on it.
                pager = self.call(limiter, method, urgent=True, request={"parent": parent})
                # The pager fetches each further page on next(): the limiter is taken before it.
                for page in pages(pager, limiter, self._workers.slots):
                    sent = {
                        str(item.get("name")): item
                        for item in page_items(captured, self._spec.list_field)
                    }
                    captured.clear()
                    self._submit_page(env, alias, neutral, limiter, progress, listing, page, sent)
            listing.listed = True

        guarded(
            each_page,
            source=SOURCE,
            resource=self._key(alias, "*"),
            errors=listing.errors,
            permission=self._spec.list_permission,
        )
        return listing

    def _submit_page(
        self,
        env: Environment,
        alias: str,
        neutral: Neutralizer,
        limiter: RateLimiter,
        progress: Any,
        listing: RegionListing,
        page: Any,
        sent: dict[str, dict[str, Any]],
    ) -> None:
        """Record a page's names and start the IAM read of each resource wanted."""
        wanted = _wanted(self._spec.configured(env), neutral)
        found = list(getattr(page, self._spec.list_field))
        names = [s.name.rsplit("/", 1)[-1] for s in found]
        listing.seen.extend(names)
        listing.urls.extend(url for s in found[:1] for url in getattr(s, "urls", ()))
        services = [
            s
            for s, name in zip(found, names, strict=True)
            if wanted is None or name in wanted or neutral(name) in wanted
        ]
        progress.grow(len(services))
        listing.pending.extend(
            self._workers.submit(
                partial(
                    self._iam_policy,
                    env,
                    alias,
                    service,
                    neutral,
                    limiter,
                    progress,
                    sent.get(service.name, {}),
                )
            )
            for service in services
        )

    def _iam_policy(
        self,
        env: Environment,
        alias: str,
        service: Any,
        neutral: Neutralizer,
        limiter: RateLimiter,
        progress: Any,
        sent: dict[str, Any],
    ) -> ServiceResult:
        from google.protobuf import json_format

        key = self._key(alias, neutral(service.name.rsplit("/", 1)[-1]))
        errors: list[CollectionErrorRecord] = []
        # A failed IAM read loses the IAM policy only: the rest of the service is still judged.
        policy = guarded(
            lambda: self.call(
                limiter, self._client.get_iam_policy, request={"resource": service.name}
            ),
            source=SOURCE,
            resource=key,
            errors=errors,
            permission=self._spec.iam_permission,
            path="iam",
        )
        iam = (
            None
            if policy is None
            else json_format.MessageToDict(policy, preserving_proto_field_name=True)
        )
        read = self._spec.extra_read
        extra = read(self, limiter, key, service, errors) if read is not None else {}
        progress.advance()
        return key, alias, service, iam, errors, sent, extra


_RUN_APP_URL = re.compile(r"^https://[a-z0-9-]+-(?P<number>[0-9]{6,})\.[a-z0-9-]+\.run\.app/?$")


def _project_number(listings: dict[str, RegionListing]) -> str | None:
    """The project number, from a service's deterministic ``run.app`` URL, if any is listed."""
    for listing in listings.values():
        for url in listing.urls:
            match = _RUN_APP_URL.match(url)
            if match:
                return match.group("number")
    return None


def _attribution(raw: dict[str, Any]) -> dict[str, str]:
    """Who changed a service last and when: context for a reader, never compared."""
    found = {
        "last_modifier": raw.get("last_modifier"),
        "update_time": raw.get("update_time"),
    }
    return {name: scrub(str(value)) for name, value in found.items() if value}


def _wanted(configured: list[str] | None, neutral: Neutralizer) -> set[str] | None:
    """Configured names, as written and in neutral form (either may be used)."""
    if configured is None:
        return None
    return {*configured, *(neutral(name) for name in configured)}


def collector_of(
    spec: RunResourceSpec, client: Callable[[Any], Any]
) -> Callable[[CollectionContext, CollectRequest], CollectorResult]:
    """A kind's collect function: every resource ``spec`` lists, in every region, through the
    client that ``client`` picks from the run's clients."""

    def collect(context: CollectionContext, request: CollectRequest) -> CollectorResult:
        collector = CloudRunCollector(
            client(context.clients), spec, context.settings, context.fingerprints, context.workers
        )
        return collector.collect(request.env, request.observe)

    collect.__doc__ = f"Every {spec.kind} of the environment, in every region."
    return collect
