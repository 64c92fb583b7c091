"""The built-in catalogue: how much each kind of drift matters, why, what to do about it, and
which findings share a cause.

Rules are tried in order and the first match wins. A rule matches a resource glob and a path glob
and may look at both values (ingress is only critical when it widens). Each rule carries its
:class:`Advice`: why the difference matters, and where Cloud Run has one, the remedy (see
``remedies``) that brings the checked environment back to its baseline. Violations (rules broken
inside one environment) carry their advice in :data:`VIOLATIONS`, by the rule name they report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from driftcheck import remedies
from driftcheck.model import FindingKind, Severity
from driftcheck.remedies import Remedy

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
_INGRESS_OPENNESS = {
    "ingress_traffic_none": -1,
    "ingress_traffic_internal_only": 0,
    "ingress_traffic_internal_load_balancer": 1,
    "ingress_traffic_all": 2,
}

Escalation = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Advice:
    """Why a finding matters, how to fix it in words, and the remedy that computes the command."""

    why: str
    how: str = ""
    remedy: Remedy | None = None


@dataclass(frozen=True)
class CatalogueRule:
    """``severity`` for findings at ``resource``/``path``; ``escalate_to`` when ``when`` holds."""

    name: str
    resource: str
    path: str
    severity: Severity
    escalate_to: Severity | None = None
    when: Escalation | None = None
    advice: Advice | None = None

    def matches(self, resource: str, path: str) -> bool:
        """Whether this rule covers the finding."""
        return fnmatchcase(resource, self.resource) and fnmatchcase(path, self.path)

    def severity_for(self, baseline: Any, actual: Any) -> Severity:
        """The rule's severity, escalated when its condition holds."""
        if self.escalate_to is not None and self.when is not None and self.when(baseline, actual):
            return self.escalate_to
        return self.severity


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


_SERVICE_UPDATE = "gcloud run services update SERVICE"
PRESENCE = Advice(
    "The resource exists on one side only: what depends on it has nothing to reach in one "
    "environment, and a release tested against one topology meets another.",
    "Deploy it from the baseline's definition (gcloud run services describe … --format export, "
    "then gcloud run services replace), or remove the extra one once nothing uses it.",
)
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
SECRET_VALUE = Advice(
    "The secret's value differs where it must be the same: whatever holds or compares it (a test "
    "suite, another service) now has another key.",
    "Add the expected value as a new version (gcloud secrets versions add SECRET --data-file=-) "
    "or point the holder at the version that matches.",
)
SECRET_REFERENCE = Advice(
    "What a service's reference to this secret asks for, or resolves to, differs: the service "
    "reads another version of the value than the baseline's.",
    f"{_SERVICE_UPDATE} --update-secrets=NAME=SECRET:VERSION",
)
SECRET_POLICY = Advice(
    "The secret's replication, rotation or expiry differ: a secret that no longer rotates, or "
    "expires, behaves differently over time than the baseline's.",
    "gcloud secrets update SECRET --rotation-period=… --next-rotation-time=… (or "
    "--remove-rotation-schedule); replication can only be set when the secret is created.",
)
AUTH_CAPABILITY = Advice(
    "The permissions a capability needs differ: a token that is enough here is refused there (or "
    "the reverse), so a flow that passes its tests can fail in production.",
    "Make the auth policy (the policy file, secret or URL configured under auth:) require the "
    "baseline's permissions, or issue tokens that carry the new ones.",
)
AUTH_VALIDATION = Advice(
    "Token validation differs (issuer, audiences, algorithms or required claims): tokens "
    "accepted in one environment are rejected in the other.",
    "Align the auth policy with the baseline's.",
)
OIDC_KEYS = Advice(
    "The published signing keys differ: tokens signed for one environment do not verify in the "
    "other.",
    "Publish the same key set (or the keys the token issuer actually signs with).",
)
AUTH_LIFETIME = Advice(
    "The longest token lifetime accepted differs: long-lived tokens accepted here are refused "
    "there.",
    "Align max_lifetime_seconds in the auth policy with the baseline's.",
)
AUTH_SOURCE = Advice("Where the auth policy is read from differs; the policy itself is compared.")
PROBE_SUBPROTOCOL = Advice(
    "The server, or a proxy in front of it, no longer answers with the negotiated "
    "Sec-WebSocket-Protocol: browsers close such a connection at once, so WebSocket clients "
    "fail while plain HTTP health checks still pass.",
    "Make the proxy (or the server) echo the selected subprotocol in Sec-WebSocket-Protocol, as "
    "the baseline's does.",
)
PROBE_HANDSHAKE = Advice(
    "The endpoint answers the probe differently: the handshake or status clients rely on changed.",
    "Compare the proxy, ingress and authentication in front of the endpoint with the baseline's.",
)
PROBE_HEALTH = Advice(
    "The health endpoint reports a dependency differently (Redis or PostgreSQL degraded): the "
    "service runs, but what it depends on does not.",
    "Check the dependency and the network path to it (VPC connector, egress, authorized network).",
)
PROBE_MESSAGES = Advice(
    "The first messages after connecting differ: clients that wait for them "
    "(connection_established) never start their work.",
    "Check what the server sends on connect, and whether the client's token is accepted.",
)
PROBE_HEADERS = Advice(
    "Response headers differ; clients or proxies that depend on them behave differently."
)
OTHER = Advice("A configuration field differs from the baseline.")
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


def _turned_off(baseline: Any, actual: Any) -> bool:
    return baseline is True and actual is not True


CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("resource-presence", "*", "", Severity.HIGH, advice=PRESENCE),
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
    CatalogueRule("labels", "*", "labels*", Severity.INFO, advice=LABELS),
    CatalogueRule(
        "secret-fingerprint", "secret/*", "*fingerprint*", Severity.MEDIUM, advice=SECRET_VALUE
    ),
    CatalogueRule(
        "secret-reference", "secret/*", "references*", Severity.MEDIUM, advice=SECRET_REFERENCE
    ),
    CatalogueRule("secret-policy", "secret/*", "*", Severity.MEDIUM, advice=SECRET_POLICY),
    CatalogueRule(
        "auth-capability", "auth-policy/*", "capabilities*", Severity.HIGH, advice=AUTH_CAPABILITY
    ),
    CatalogueRule("auth-issuer", "auth-policy/*", "issuer", Severity.HIGH, advice=AUTH_VALIDATION),
    CatalogueRule(
        "auth-audience", "auth-policy/*", "audiences*", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule(
        "auth-audience",
        "auth-policy/*",
        "service_audiences*",
        Severity.HIGH,
        advice=AUTH_VALIDATION,
    ),
    CatalogueRule(
        "auth-algorithm", "auth-policy/*", "algorithms*", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule(
        "auth-claims", "auth-policy/*", "required_claims*", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule(
        "auth-claims", "auth-policy/*", "permissions_claim", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule(
        "oidc-issuer", "auth-policy/*", "oidc.issuer", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule(
        "oidc-algorithm", "auth-policy/*", "oidc.algorithms*", Severity.HIGH, advice=AUTH_VALIDATION
    ),
    CatalogueRule("oidc-keys", "auth-policy/*", "oidc.keys*", Severity.MEDIUM, advice=OIDC_KEYS),
    CatalogueRule(
        "auth-lifetime", "auth-policy/*", "max_lifetime_seconds", Severity.LOW, advice=AUTH_LIFETIME
    ),
    CatalogueRule("auth-source", "auth-policy/*", "source", Severity.INFO, advice=AUTH_SOURCE),
    CatalogueRule(
        "probe-subprotocol", "probe/*", "subprotocol", Severity.HIGH, advice=PROBE_SUBPROTOCOL
    ),
    CatalogueRule("probe-handshake", "probe/*", "handshake", Severity.HIGH, advice=PROBE_HANDSHAKE),
    CatalogueRule("probe-status", "probe/*", "status", Severity.HIGH, advice=PROBE_HANDSHAKE),
    CatalogueRule("probe-health", "probe/*", "fields*", Severity.MEDIUM, advice=PROBE_HEALTH),
    CatalogueRule("probe-messages", "probe/*", "messages*", Severity.MEDIUM, advice=PROBE_MESSAGES),
    CatalogueRule("probe-headers", "probe/*", "headers*", Severity.MEDIUM, advice=PROBE_HEADERS),
    CatalogueRule("other", "*", "*", Severity.LOW, advice=OTHER),
)


@dataclass(frozen=True)
class ViolationAdvice:
    """Advice for a violation rule (``rule`` of a violation finding), with the severity the
    rule usually reports (violations set their own; this one is what SARIF calls the default)."""

    name: str
    severity: Severity
    advice: Advice


_TOKEN = Advice(
    "The token fails a check that the service applies to it: requests made with it are refused, "
    "or accepted for less than the tests believe.",
    "Issue the token again so that it passes the auth policy (issuer, audience, algorithm, "
    "expiry, claims), or fix the policy if the token is right.",
)
VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice(
        "secret-missing",
        Severity.CRITICAL,
        Advice(
            "The secret does not exist: services that reference it cannot start a new revision.",
            "Create it (gcloud secrets create SECRET, then gcloud secrets versions add), or "
            "remove the references.",
        ),
    ),
    ViolationAdvice(
        "secret-no-enabled-version",
        Severity.HIGH,
        Advice(
            "No version of the secret is enabled: every reference to latest fails.",
            "Enable a version (gcloud secrets versions enable VERSION --secret=SECRET) or add one.",
        ),
    ),
    ViolationAdvice(
        "secret-version-unusable",
        Severity.HIGH,
        Advice(
            "A service references a secret version that is disabled or destroyed: its next "
            "revision cannot start, and an instance that restarts loses the value.",
            "Pin the service to the newest enabled version, or enable the version again "
            "(gcloud secrets versions enable VERSION --secret=SECRET; a destroyed version cannot "
            "come back).",
            remedies.unusable_secret_version,
        ),
    ),
    ViolationAdvice(
        "expected-value-unset",
        Severity.HIGH,
        Advice(
            "The variable that should hold this secret for its consumer (the E2E suite) is not "
            "set: the consumer cannot authenticate the way the baseline expects.",
            "Set the variable in the consumer's own secret store.",
        ),
    ),
    ViolationAdvice(
        "expected-value-mismatch",
        Severity.CRITICAL,
        Advice(
            "The key the consumer (the E2E suite) holds no longer matches the live secret: every "
            "run falls back to a weaker token, or fails, and tests less than it claims.",
            "Update the value the consumer holds to the live version (read it with gcloud "
            "secrets versions access VERSION --secret=SECRET, straight into the consumer's "
            "secret store), or roll the secret back to the version the consumer holds.",
        ),
    ),
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
    ViolationAdvice(
        "jwks-private-material",
        Severity.CRITICAL,
        Advice(
            "The JWKS publishes private or symmetric key material: anyone can sign tokens the "
            "service accepts.",
            "Remove the private members (d, p, q, dp, dq, qi, k) from the published JWKS and "
            "rotate the signing key at once.",
        ),
    ),
    ViolationAdvice(
        "token-permission",
        Severity.HIGH,
        Advice(
            "The token lacks a permission that a capability requires: connections open, but the "
            "work that needs the permission (agent execution) never starts.",
            "Issue the token with the permission, or stop requiring it in the auth policy.",
        ),
    ),
    ViolationAdvice("token-alg_none", Severity.CRITICAL, _TOKEN),
    ViolationAdvice("token-signature", Severity.CRITICAL, _TOKEN),
    ViolationAdvice("token-expired", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-issuer", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-audience", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-algorithm", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-unknown_key", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-unset", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-malformed", Severity.HIGH, _TOKEN),
    ViolationAdvice("token-no_expiry", Severity.MEDIUM, _TOKEN),
    ViolationAdvice("token-lifetime", Severity.MEDIUM, _TOKEN),
    ViolationAdvice("token-claim", Severity.MEDIUM, _TOKEN),
    ViolationAdvice("probe-subprotocol", Severity.HIGH, PROBE_SUBPROTOCOL),
    ViolationAdvice("probe-handshake", Severity.HIGH, PROBE_HANDSHAKE),
    ViolationAdvice("probe-status", Severity.HIGH, PROBE_HANDSHAKE),
    ViolationAdvice("probe-messages", Severity.MEDIUM, PROBE_MESSAGES),
    ViolationAdvice("probe-degraded", Severity.HIGH, PROBE_HEALTH),
    ViolationAdvice(
        "probe-latency",
        Severity.MEDIUM,
        Advice(
            "The endpoint answers slower than its limit: clients with timeouts give up, and "
            "load tests measure a slower system than the baseline's.",
            "Check the service's instances (cold starts, CPU) and its dependencies.",
        ),
    ),
    ViolationAdvice(
        "rules.suppress",
        Severity.LOW,
        Advice(
            "A suppression in driftcheck.yaml has expired or matches no finding: what it "
            "covered is judged again, or the rule is dead weight.",
            "Renew it with a new expiry (and the value accepted), or remove it.",
        ),
    ),
)


def classify(
    resource: str, path: str, kind: FindingKind, baseline: Any, actual: Any
) -> tuple[Severity, str]:
    """Severity and rule name for a finding, from the first matching catalogue rule."""
    for rule in CATALOGUE:
        if rule.matches(resource, path):
            return rule.severity_for(baseline, actual), rule.name
    return Severity.LOW, "other"


def catalogue_rule(resource: str, path: str) -> CatalogueRule:
    """The first catalogue rule that covers ``resource``/``path`` (``other`` at the end)."""
    return next(rule for rule in CATALOGUE if rule.matches(resource, path))


def violation_advice(rule: str | None) -> ViolationAdvice | None:
    """The advice of a violation rule: by name, else by its family (``token-claim:…``,
    ``rules.suppress[2]``)."""
    if rule is None:
        return None
    for entry in VIOLATIONS:
        if rule == entry.name:
            return entry
    family = re.split(r"[:\[]", rule, maxsplit=1)[0]
    return next((entry for entry in VIOLATIONS if entry.name == family), None)


# One fact, one finding ------------------------------------------------------------------------
CauseKeys = Callable[[str, "re.Match[str]"], list[str]]
UserKeys = Callable[[Any, Any], list[str]]


@dataclass(frozen=True)
class CauseRule:
    """Findings at ``resource``/``path`` (a regular expression) stem from the causes that
    ``keys`` names; findings that share any cause are one finding (see ``merge``)."""

    name: str
    resource: str
    path: re.Pattern[str]
    keys: CauseKeys
    follows: bool = False  # only joins a cause that another finding establishes
    from_values: UserKeys | None = None  # keys read from the finding's values instead

    def causes(
        self, resource: str, path: str, baseline: Any = None, actual: Any = None
    ) -> list[str]:
        """The cause keys of a finding, or none when the rule does not apply."""
        if not fnmatchcase(resource, self.resource):
            return []
        match = self.path.fullmatch(path)
        if match is None:
            return []
        if self.from_values is not None:
            return self.from_values(baseline, actual)
        return self.keys(resource, match)


def _named(name: str) -> CauseKeys:
    """Keys ``<name>:<resource>``: every matching finding of a resource shares one cause."""
    return lambda resource, match: [f"{name}:{resource}"]


def _reference(resource: str, match: re.Match[str]) -> list[str]:
    """The place that uses a secret, seen from the secret (``references.<where>``)."""
    where = match.group("where")
    keys = [f"secret-reference:{where}", f"presence:{where.split(':', 1)[0]}"]
    if match.group("field") in ("resolved", "fingerprint"):
        # What a reference resolves to moves with the secret's versions (a rotation).
        keys.append(f"secret-versions:{resource}")
    return keys


def _service_env_reference(resource: str, match: re.Match[str]) -> list[str]:
    """The same place, seen from the service that uses the secret."""
    return [f"secret-reference:{resource}:{match.group('where')}"]


def _service_volume_reference(resource: str, match: re.Match[str]) -> list[str]:
    return [f"secret-reference:{resource}:volumes.{match.group('volume')}.{match.group('item')}"]


_REFERENCE_FIELDS = r"(?:\.(?P<field>pinned|requested|resolved|state|fingerprint))?"


def _used_by(baseline: Any, actual: Any) -> list[str]:
    """A resource on one side only joins the finding of the resources that use it."""
    value = actual if isinstance(actual, dict) else baseline
    users = value.get("used_by") if isinstance(value, dict) else None
    if not isinstance(users, list):
        return []
    keys = [f"presence:{str(user).split(':', 1)[0]}" for user in users]
    return keys + [f"secret-reference:{user}" for user in users]


CAUSES: tuple[CauseRule, ...] = (
    # A resource on one side only: everything that refers to it elsewhere follows from that.
    CauseRule("presence", "*", re.compile(""), _named("presence")),
    CauseRule(
        "presence", "*", re.compile(""), _named("presence"), follows=True, from_values=_used_by
    ),
    # A proxy that drops Sec-WebSocket-Protocol: the subprotocol, the echoed header, the defect.
    CauseRule(
        "probe-subprotocol",
        "probe/*",
        re.compile(r"subprotocol|headers\.sec-websocket-protocol|defects\.subprotocol"),
        _named("probe-subprotocol"),
    ),
    CauseRule(
        "probe-handshake",
        "probe/*",
        re.compile(r"handshake|status|defects\.(?:handshake|status)"),
        _named("probe-handshake"),
    ),
    # When the handshake itself changed, what the connection would have shown follows from it.
    CauseRule(
        "probe-handshake",
        "probe/*",
        re.compile(r"subprotocol|headers(?:\..+)?|messages|close_code|defects\..+"),
        _named("probe-handshake"),
        follows=True,
    ),
    # A degraded dependency shows in the health field that reports it, and in its defect.
    CauseRule(
        "probe-health",
        "probe/*",
        re.compile(r"(?:fields\.|defects\.degraded:)(?P<field>.+)"),
        lambda resource, match: [f"probe-health:{resource}:{match.group('field')}"],
    ),
    CauseRule(
        "probe-messages",
        "probe/*",
        re.compile(r"messages|close_code|defects\.messages"),
        _named("probe-messages"),
    ),
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
    # A secret's versions moved (a rotation): its latest version, fingerprints, resolutions.
    CauseRule(
        "secret-versions",
        "secret/*",
        re.compile(r"versions(?:\..+)?|latest(?:\..+)?"),
        _named("secret-versions"),
    ),
    # One reference to a secret: its violation, what it asks for, and the service's own setting.
    CauseRule(
        "secret-reference",
        "secret/*",
        re.compile(rf"references\.(?P<where>.+?){_REFERENCE_FIELDS}"),
        _reference,
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


def causes_of(
    resource: str, path: str, baseline: Any = None, actual: Any = None
) -> tuple[list[str], list[str]]:
    """The cause keys a finding at ``resource``/``path`` establishes, and those it only joins
    when another finding establishes them."""
    own: list[str] = []
    joined: list[str] = []
    for rule in CAUSES:
        keys = rule.causes(resource, path, baseline, actual)
        (joined if rule.follows else own).extend(keys)
    return own, joined
