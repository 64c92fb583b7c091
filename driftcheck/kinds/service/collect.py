"""Cloud Run services: listed per region with ``run_v2.ServicesClient``, one IAM read each."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from driftcheck.collectors.interface import CollectionContext, CollectorResult, Permission
from driftcheck.kinds.cloud_run.collect import CloudRunCollector, RunResourceSpec
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.service.normalize import normalize_service
from driftcheck.kinds.service.serving import read_serving

SERVICES = RunResourceSpec(
    kind="service",
    noun="services",
    list_method="list_services",
    list_field="services",
    list_permission=Permission("run.services.list", "roles/run.viewer"),
    iam_permission=Permission("run.services.getIamPolicy", "roles/run.viewer"),
    normalize=normalize_service,
    configured=lambda env: env.services,
    empty_region_is_gap=True,
)


def collect_services(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """Every (or every configured) service of the environment, in every region."""
    # What serves is read with the revisions client, service by service.
    spec = replace(SERVICES, extra_read=partial(read_serving, context.clients.revisions))
    collector = CloudRunCollector(
        context.clients.run, spec, context.settings, context.fingerprints, context.workers
    )
    return collector.collect(request.env, request.observe)
