"""Cloud Run services through google-cloud-run's ``run_v2.ServicesClient``.

One ``list_services`` per region and page (it returns whole services, so no service is fetched
again) and one ``get_iam_policy`` per service. IAM calls start as soon as a page arrives, on the
shared worker pool; every call waits for its (project, region) rate limiter and goes through the
bounded retry policy. Failures become collection errors naming the region or service.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from driftcheck.collectors.interface import ApiCollector, CollectorResult, guarded
from driftcheck.concurrency import RateLimiter
from driftcheck.config import Environment
from driftcheck.model import CollectionErrorRecord
from driftcheck.normalize import Neutralizer, normalize_service

SOURCE = "run.googleapis.com"
ServiceResult = tuple[str, str, Any, dict[str, Any] | None, list[CollectionErrorRecord]]


def service_key(env: Environment, region: str, name: str) -> str:
    """Snapshot key of a service: the region appears only when the environment has several."""
    return f"service/{region}/{name}" if env.multi_region else f"service/{name}"


class CloudRunCollector(ApiCollector):
    """Reads the Cloud Run services of one environment and normalizes them."""

    source = SOURCE

    def collect(self, env: Environment) -> CollectorResult:
        """Every (or every configured) service in every region of ``env``."""
        result = CollectorResult()
        neutrals = {
            region: Neutralizer(
                project=env.project,
                region=region,
                project_number=env.project_number,
                name_map=env.name_map,
            )
            for region in env.regions
        }
        # Listing drives pagination (sequential by nature) in one thread per region; the calls
        # it spawns go to the shared pool, which these drivers never occupy.
        with ThreadPoolExecutor(max_workers=len(env.regions)) as drivers:
            listings = [drivers.submit(self._list_region, env, region) for region in env.regions]
            pending: list[Future[ServiceResult]] = []
            for listing in listings:
                services, errors = listing.result()
                pending.extend(services)
                result.errors.extend(errors)
        # Normalizing here, while later calls are still in flight, frees pool workers sooner.
        for future in pending:
            key, region, service, iam, errors = future.result()
            raw = type(service).to_dict(
                service, preserving_proto_field_name=True, use_integers_for_enums=False
            )
            result.resources[key] = normalize_service(
                raw, iam, neutrals[region], self._fingerprints
            )
            result.errors.extend(errors)
        return result

    def _list_region(
        self, env: Environment, region: str
    ) -> tuple[list[Future[ServiceResult]], list[CollectionErrorRecord]]:
        errors: list[CollectionErrorRecord] = []
        submitted: list[Future[ServiceResult]] = []
        limiter = self._workers.limits.limiter("run", env.project, region)
        wanted = set(env.services) if env.services is not None else None
        progress = self._workers.progress.task(f"{env.project} {region}: services")

        def each_page() -> None:
            parent = f"projects/{env.project}/locations/{region}"
            pager = self.call(limiter, self._client.list_services, request={"parent": parent})
            pages = iter(pager.pages)
            first = True
            while True:
                if not first:
                    limiter.acquire()  # the pager fetches the next page on next()
                first = False
                page = next(pages, None)
                if page is None:
                    return
                services = [
                    s
                    for s in page.services
                    if wanted is None or s.name.rsplit("/", 1)[-1] in wanted
                ]
                progress.grow(len(services))
                submitted.extend(
                    self._workers.submit(
                        partial(self._iam_policy, env, region, service, limiter, progress)
                    )
                    for service in services
                )

        guarded(each_page, source=SOURCE, resource=service_key(env, region, "*"), errors=errors)
        return submitted, errors

    def _iam_policy(
        self,
        env: Environment,
        region: str,
        service: Any,
        limiter: RateLimiter,
        progress: Any,
    ) -> ServiceResult:
        from google.protobuf import json_format

        key = service_key(env, region, service.name.rsplit("/", 1)[-1])
        errors: list[CollectionErrorRecord] = []
        policy = guarded(
            lambda: self.call(
                limiter, self._client.get_iam_policy, request={"resource": service.name}
            ),
            source=SOURCE,
            resource=key,
            errors=errors,
        )
        iam = (
            None
            if policy is None
            else json_format.MessageToDict(policy, preserving_proto_field_name=True)
        )
        progress.advance()
        return key, region, service, iam, errors
