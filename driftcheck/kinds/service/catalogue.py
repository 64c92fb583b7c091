"""Severity rules of Cloud Run services: what each difference risks, and how to fix it."""

from __future__ import annotations

import re
from typing import Any

from driftcheck import remedies
from driftcheck.catalogue import (
    PUBLIC_MEMBERS,
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
)
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


def _made_public(baseline: Any, actual: Any) -> bool:
    before = set(baseline or []) & PUBLIC_MEMBERS
    after = set(actual or []) & PUBLIC_MEMBERS
    return bool(after - before)


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

PUBLIC_INVOKER = Advice(
    "roles/run.invoker decides who may call the service: allUsers or allAuthenticatedUsers lets "
    "anyone call it, skipping the authentication the baseline relies on.",
    "gcloud run services remove-iam-policy-binding SERVICE --member=MEMBER "
    "--role=roles/run.invoker (add-iam-policy-binding for a member the baseline grants)",
    remedies.iam_bindings,
)

INVOKER_CHECK = Advice(
    "With the invoker IAM check disabled, Cloud Run lets unauthenticated requests through: the "
    "service is public whatever its IAM policy says.",
    f"{_SERVICE_UPDATE} --invoker-iam-check",
    remedies.invoker_iam_check,
)

IAM = Advice(
    "IAM bindings on the service differ: someone may call or administer it in one environment "
    "and not in the other.",
    "gcloud run services add-iam-policy-binding / remove-iam-policy-binding SERVICE "
    "--member=MEMBER --role=ROLE",
    remedies.iam_bindings,
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

VPC = Advice(
    "The VPC connector and egress setting decide which network private addresses (Redis, "
    "PostgreSQL) are reached through, and whether all outbound traffic leaves through the VPC: "
    "another connector reaches other, possibly degraded, dependencies.",
    f"{_SERVICE_UPDATE} --vpc-connector=CONNECTOR --vpc-egress=private-ranges-only|all-traffic "
    "(--clear-vpc-connector to remove it; --network/--subnet for Direct VPC)",
    remedies.vpc_access,
)

ENV_VAR = Advice(
    "Environment variables configure the application: another value, or a missing variable, "
    "means the release runs here with settings it will not have there.",
    f"{_SERVICE_UPDATE} --update-env-vars=NAME=VALUE (--remove-env-vars=NAME; "
    "--update-secrets=NAME=SECRET:VERSION for secret references). A redacted value gets no "
    "command: set it from where the secret is kept, or better, from Secret Manager.",
    remedies.env_var,
)

VOLUMES = Advice(
    "Volumes provide files the application reads (mounted secrets, Cloud Storage, NFS): another "
    "mount serves other files, or none.",
    f"{_SERVICE_UPDATE} --update-secrets=/MOUNT/PATH=SECRET:VERSION (secret volumes), "
    "--add-volume and --add-volume-mount for the others",
)

SERVICE_ACCOUNT = Advice(
    "The service account is the identity the service calls Google APIs with: another one has "
    "other permissions, so calls that work here can be refused there.",
    f"{_SERVICE_UPDATE} --service-account=EMAIL",
    remedies.service_account,
)

IMAGE = Advice(
    "Another image is other code: this environment is not running the release the baseline runs.",
    f"{_SERVICE_UPDATE} --image=IMAGE (by digest where the baseline pins one)",
    remedies.image,
)

SCALING = Advice(
    "Minimum and maximum instances change cold starts and capacity, not behaviour; usually a "
    "deliberate cost choice.",
    f"{_SERVICE_UPDATE} --min-instances=N --max-instances=N",
    remedies.scaling,
)

LABELS = Advice(
    "Labels are metadata (billing, ownership, automation selectors); they change no behaviour "
    "unless a tool selects by them.",
    f"{_SERVICE_UPDATE} --update-labels=KEY=VALUE (--remove-labels=KEY)",
    remedies.labels,
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

AUDIENCES = Advice(
    "Custom audiences decide which ID tokens the service accepts: a lost audience makes clients "
    "that mint tokens for it get 401, on the WebSocket upgrade too.",
    f"{_SERVICE_UPDATE} --add-custom-audiences=AUDIENCE / --remove-custom-audiences=AUDIENCE",
)

BINARY_AUTHORIZATION = Advice(
    "Binary Authorization decides which images may run: without its policy an unsigned or "
    "unvetted image can be deployed here.",
    f"{_SERVICE_UPDATE} --binary-authorization=default (or --clear-binary-authorization)",
)

SERVICE_MESH = Advice(
    "The service mesh carries the service's traffic policy and mutual TLS: without it, calls "
    "between services behave and authenticate differently.",
    f"{_SERVICE_UPDATE} --mesh=MESH (or --clear-mesh)",
)

MAX_INSTANCES = Advice(
    "Maximum instances times concurrency is the ceiling of simultaneous requests and open "
    "WebSockets: a lower ceiling refuses connections under the load the baseline carries.",
    f"{_SERVICE_UPDATE} --max-instances=N",
    remedies.scaling,
)


def _service_env_reference(resource: str, match: re.Match[str]) -> list[str]:
    """The same place, seen from the service that uses the secret."""
    return [f"secret-reference:{resource}:{match.group('where')}"]


def _service_volume_reference(resource: str, match: re.Match[str]) -> list[str]:
    return [f"secret-reference:{resource}:volumes.{match.group('volume')}.{match.group('item')}"]


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
        "public-invoker",
        "service/*",
        "iam.roles/run.invoker*",  # conditional grants of the role too
        Severity.HIGH,
        Severity.CRITICAL,
        _made_public,
        advice=PUBLIC_INVOKER,
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
    CatalogueRule("iam", "service/*", "iam*", Severity.HIGH, advice=IAM),
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
        "custom-audiences", "service/*", "custom_audiences*", Severity.HIGH, advice=AUDIENCES
    ),
    CatalogueRule(
        "binary-authorization",
        "service/*",
        "binary_authorization*",
        Severity.HIGH,
        advice=BINARY_AUTHORIZATION,
    ),
    CatalogueRule(
        "service-mesh", "service/*", "template.service_mesh*", Severity.HIGH, advice=SERVICE_MESH
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
    CatalogueRule("vpc-egress", "service/*", "template.vpc_access*", Severity.HIGH, advice=VPC),
    CatalogueRule(
        "env-var", "service/*", "template.containers.*.env*", Severity.MEDIUM, advice=ENV_VAR
    ),
    CatalogueRule(
        "secret-volume", "service/*", "template.volumes*", Severity.MEDIUM, advice=VOLUMES
    ),
    CatalogueRule(
        "volume-mount",
        "service/*",
        "template.containers.*.volume_mounts*",
        Severity.MEDIUM,
        advice=VOLUMES,
    ),
    CatalogueRule(
        "service-account",
        "service/*",
        "template.service_account",
        Severity.MEDIUM,
        advice=SERVICE_ACCOUNT,
    ),
    CatalogueRule("image", "service/*", "template.containers.*.image", Severity.LOW, advice=IMAGE),
    CatalogueRule("scaling", "service/*", "template.scaling*", Severity.INFO, advice=SCALING),
    CatalogueRule("scaling", "service/*", "scaling*", Severity.INFO, advice=SCALING),
    CatalogueRule("labels", "service/*", "labels*", Severity.INFO, advice=LABELS),
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice(
        "plain-secret",
        Severity.MEDIUM,
        Advice(
            "A secret-looking value is set in clear as an environment variable: whoever may read "
            "the service's configuration reads the secret, every revision keeps a copy, and "
            "rotating it takes a deploy.",
            "Store it in Secret Manager (gcloud secrets create NAME --data-file=-) and reference "
            "it: gcloud run services update SERVICE --update-secrets=VARIABLE=NAME:latest.",
        ),
    ),
)

CAUSES: tuple[CauseRule, ...] = (
    # A secret-looking value in clear: the violation, and its difference from the baseline.
    # ...and when the other side takes it from Secret Manager, the reference it lost.
    CauseRule(
        "plain-secret",
        "service/*",
        re.compile(r"template\.(?P<where>containers\.[^.]+\.env\.[^.]+)\.value"),
        lambda resource, match: [
            f"plain-secret:{resource}:{match.group(0)}",
            f"secret-reference:{resource}:{match.group('where')}",
        ],
    ),
    CauseRule(
        "secret-reference",
        "service/*",
        re.compile(r"template\.(?P<where>containers\.[^.]+\.env\.[^.]+)\.(?:version|secret)"),
        _service_env_reference,
    ),
    CauseRule(
        "secret-reference",
        "service/*",
        re.compile(r"template\.volumes\.(?P<volume>[^.]+)\.secret\.items\.(?P<item>.+)\.version"),
        _service_volume_reference,
    ),
)
