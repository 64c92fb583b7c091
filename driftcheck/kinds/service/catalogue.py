"""Severity rules of Cloud Run services: what each difference risks, and how to fix it."""

from __future__ import annotations

from typing import Any

from driftcheck import remedies
from driftcheck.catalogue import (
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
)
from driftcheck.kinds.cloud_run.catalogue import PLAIN_SECRET, workload_causes, workload_rules
from driftcheck.model import Severity

_INGRESS_OPENNESS = {
    "ingress_traffic_none": -1,
    "ingress_traffic_internal_only": 0,
    "ingress_traffic_internal_load_balancer": 1,
    "ingress_traffic_all": 2,
}


def _ingress_widened(baseline: Any, actual: Any) -> bool:
    before = _INGRESS_OPENNESS.get(str(baseline), -1)
    after = _INGRESS_OPENNESS.get(str(actual), 3)
    return after > before


def _turned_on(baseline: Any, actual: Any) -> bool:
    return actual is True and baseline is not True


def _turned_off(baseline: Any, actual: Any) -> bool:
    return baseline is True and actual is not True


_SERVICE_UPDATE = "gcloud run services update SERVICE"

INGRESS = Advice(
    "Ingress decides who can reach the service at all: a wider setting exposes it to traffic the "
    "baseline never accepts (the whole internet instead of the load balancer or the VPC); a "
    "narrower one cuts off callers the baseline serves.",
    f"{_SERVICE_UPDATE} --ingress=all|internal|internal-and-cloud-load-balancing",
    remedies.ingress,
)


INVOKER_CHECK = Advice(
    "With the invoker IAM check disabled, Cloud Run lets unauthenticated requests through: the "
    "service is public whatever its IAM policy says.",
    f"{_SERVICE_UPDATE} --invoker-iam-check",
    remedies.invoker_iam_check,
)


REQUEST_TIMEOUT = Advice(
    "The request timeout caps how long a request, and a WebSocket connection, may stay open: a "
    "shorter one drops long-lived connections the baseline keeps, so clients reconnect "
    "mid-session.",
    f"{_SERVICE_UPDATE} --timeout=SECONDS",
    remedies.request_timeout,
)

SESSION_AFFINITY = Advice(
    "Session affinity keeps a client on the same instance: without it, WebSocket reconnects and "
    "follow-up requests land on another instance and lose their in-memory session.",
    f"{_SERVICE_UPDATE} --session-affinity (or --no-session-affinity)",
    remedies.session_affinity,
)

HTTP2 = Advice(
    "The port's name is the protocol Cloud Run speaks to the container: h2c is HTTP/2 end to "
    "end, which a server that speaks HTTP/1.1 (or upgrades to WebSocket) cannot answer; the "
    "port number is where requests are sent.",
    f"{_SERVICE_UPDATE} --use-http2 (or --no-use-http2), --port=PORT",
    remedies.ports,
)

CONCURRENCY = Advice(
    "Concurrency is how many requests one instance serves at once: another limit changes "
    "latency, memory per instance and how many instances a load needs, so load and soak tests "
    "do not carry over.",
    f"{_SERVICE_UPDATE} --concurrency=N",
    remedies.max_concurrency,
)


SCALING = Advice(
    "Minimum and maximum instances change cold starts and capacity, not behaviour; usually a "
    "deliberate cost choice.",
    f"{_SERVICE_UPDATE} --min-instances=N --max-instances=N",
    remedies.scaling,
)


TRAFFIC = Advice(
    "The traffic split decides which revisions serve, and which tags reach them: another split "
    "sends users to code the baseline does not serve, or sends a tag's testers to the latest "
    "revision instead of a fixed one.",
    "gcloud run services update-traffic SERVICE --to-latest (or --to-revisions=REVISION=PERCENT, "
    "--set-tags=TAG=REVISION)",
)
SERVING = Advice(
    "What actually serves differs: a revision other than the baseline's receives traffic (a "
    "failed deploy left an older revision serving, or traffic is pinned to one), so users meet "
    "code and settings the baseline does not run, whatever the template says.",
    "gcloud run revisions describe REVISION for what serves; fix the deploy, then gcloud run "
    "services update-traffic SERVICE --to-latest",
)
FAILED_DEPLOY = Advice(
    "The latest revision is not ready, so the service's template is not what serves: traffic "
    "still goes to the last ready revision, and a check of the template alone would judge "
    "configuration nobody runs.",
    "gcloud run revisions describe REVISION (its conditions say why it failed); deploy again "
    "once fixed",
)
SSH = Advice(
    "With SSH enabled, people can open a shell in the service's running instances: code and "
    "data change outside any deploy, and the baseline never grants that access.",
    "gcloud run services update SERVICE --no-ssh (or --ssh), as the baseline has it",
)
IAP = Advice(
    "Identity-Aware Proxy in front of the service authenticates every caller; without it the "
    "service answers whoever reaches its ingress.",
    f"{_SERVICE_UPDATE} --iap (or --no-iap), as the baseline has it",
)

DEFAULT_URI = Advice(
    "With the default run.app URL enabled, callers can reach the service directly and bypass "
    "the load balancer (and its Cloud Armor and IAP) that the baseline puts in front of it.",
    f"{_SERVICE_UPDATE} --no-default-url (or --default-url), as the baseline has it",
)


MAX_INSTANCES = Advice(
    "Maximum instances times concurrency is the ceiling of simultaneous requests and open "
    "WebSockets: a lower ceiling refuses connections under the load the baseline carries.",
    f"{_SERVICE_UPDATE} --max-instances=N",
    remedies.scaling,
)


CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule(
        "ingress",
        "service/*",
        "ingress",
        Severity.HIGH,
        Severity.CRITICAL,
        _ingress_widened,
        advice=INGRESS,
    ),
    CatalogueRule(
        "invoker-check-disabled",
        "service/*",
        "invoker_iam_disabled",
        Severity.HIGH,
        Severity.CRITICAL,
        _turned_on,
        advice=INVOKER_CHECK,
    ),
    CatalogueRule(
        "ssh", "service/*", "ssh_enabled", Severity.HIGH, Severity.CRITICAL, _turned_on, SSH
    ),
    CatalogueRule(
        "iap", "service/*", "iap_enabled", Severity.HIGH, Severity.CRITICAL, _turned_off, IAP
    ),
    CatalogueRule(
        "default-uri",
        "service/*",
        "default_uri_disabled",
        Severity.HIGH,
        Severity.CRITICAL,
        _turned_off,
        DEFAULT_URI,
    ),
    CatalogueRule(
        "max-instances",
        "service/*",
        "template.scaling.max_instance_count",
        Severity.MEDIUM,
        advice=MAX_INSTANCES,
    ),
    CatalogueRule(
        "max-instances",
        "service/*",
        "scaling.manual_instance_count",
        Severity.MEDIUM,
        advice=MAX_INSTANCES,
    ),
    CatalogueRule(
        "request-timeout", "service/*", "template.timeout", Severity.HIGH, advice=REQUEST_TIMEOUT
    ),
    CatalogueRule(
        "session-affinity",
        "service/*",
        "template.session_affinity",
        Severity.HIGH,
        advice=SESSION_AFFINITY,
    ),
    CatalogueRule(
        "http2-end-to-end", "service/*", "template.containers.*.ports*", Severity.HIGH, advice=HTTP2
    ),
    CatalogueRule(
        "max-concurrency",
        "service/*",
        "template.max_instance_request_concurrency",
        Severity.HIGH,
        advice=CONCURRENCY,
    ),
    CatalogueRule("traffic", "service/*", "traffic*", Severity.MEDIUM, advice=TRAFFIC),
    CatalogueRule("serving", "service/*", "serving*", Severity.HIGH, advice=SERVING),
    *workload_rules("service/*", "services", "SERVICE"),
    CatalogueRule("scaling", "service/*", "template.scaling*", Severity.INFO, advice=SCALING),
    CatalogueRule("scaling", "service/*", "scaling*", Severity.INFO, advice=SCALING),
)
VIOLATIONS: tuple[ViolationAdvice, ...] = (
    PLAIN_SECRET,
    ViolationAdvice("failed-deploy", Severity.HIGH, FAILED_DEPLOY),
)
CAUSES: tuple[CauseRule, ...] = workload_causes("service/*")
