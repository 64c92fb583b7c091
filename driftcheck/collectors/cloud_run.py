"""Cloud Run services through google-cloud-run's ``run_v2.ServicesClient``.

One ``list_services`` per region and page (it returns whole services, so no service is fetched
again) and one ``get_iam_policy`` per service. Every call goes through the bounded retry policy;
failures become collection errors naming the region or service that could not be read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftcheck.collectors.interface import CollectorResult, guarded, retry_policy
from driftcheck.config import ApiSettings, Environment
from driftcheck.fingerprint import Fingerprinter
from driftcheck.model import CollectionErrorRecord
from driftcheck.normalize import Neutralizer, normalize_service

SOURCE = "run.googleapis.com"


def service_key(env: Environment, region: str, name: str) -> str:
    """Snapshot key of a service: the region appears only when the environment has several."""
    return f"service/{region}/{name}" if env.multi_region else f"service/{name}"


class CloudRunCollector:
    """Reads the Cloud Run services of one environment and normalizes them."""

    source = SOURCE

    def __init__(self, client: Any, settings: ApiSettings, fingerprints: Fingerprinter) -> None:
        self._client = client
        self._settings = settings
        self._retry = retry_policy(settings)
        self._fingerprints = fingerprints

    def collect(self, env: Environment) -> CollectorResult:
        """Every (or every configured) service in every region of ``env``."""
        result = CollectorResult()
        for region in env.regions:
            result.merge(self._collect_region(env, region))
        return result

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
        return lambda: method(**kwargs, retry=self._retry, timeout=self._settings.timeout_seconds)

    def _collect_region(self, env: Environment, region: str) -> CollectorResult:
        result = CollectorResult()
        parent = f"projects/{env.project}/locations/{region}"
        wildcard = service_key(env, region, "*")
        listing = self._call(self._client.list_services, request={"parent": parent})
        services = guarded(
            lambda: list(listing()), source=SOURCE, resource=wildcard, errors=result.errors
        )
        if services is None:
            return result
        wanted = set(env.services) if env.services is not None else None
        neutral = Neutralizer(
            project=env.project,
            region=region,
            project_number=env.project_number,
            name_map=env.name_map,
        )
        for service in services:
            name = service.name.rsplit("/", 1)[-1]
            if wanted is not None and name not in wanted:
                continue
            key = service_key(env, region, name)
            policy = self._iam_policy(service.name, key, result.errors)
            raw = type(service).to_dict(
                service, preserving_proto_field_name=True, use_integers_for_enums=False
            )
            result.resources[key] = normalize_service(raw, policy, neutral, self._fingerprints)
        return result

    def _iam_policy(
        self, name: str, key: str, errors: list[CollectionErrorRecord]
    ) -> dict[str, Any] | None:
        from google.protobuf import json_format

        call = self._call(self._client.get_iam_policy, request={"resource": name})
        policy = guarded(call, source=SOURCE, resource=key, errors=errors)
        if policy is None:
            return None
        return json_format.MessageToDict(policy, preserving_proto_field_name=True)
