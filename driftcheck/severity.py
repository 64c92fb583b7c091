"""The built-in catalogue: how much each kind of drift matters, and which findings share a cause.

Rules are tried in order and the first match wins. A rule matches a resource glob and a path glob
and may look at both values (ingress is only critical when it widens).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from driftcheck.model import FindingKind, Severity

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
_INGRESS_OPENNESS = {
    "ingress_traffic_internal_only": 0,
    "ingress_traffic_internal_load_balancer": 1,
    "ingress_traffic_all": 2,
}

Escalation = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class CatalogueRule:
    """``severity`` for findings at ``resource``/``path``; ``escalate_to`` when ``when`` holds."""

    name: str
    resource: str
    path: str
    severity: Severity
    escalate_to: Severity | None = None
    when: Escalation | None = None

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


CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("resource-presence", "*", "", Severity.HIGH),
    CatalogueRule(
        "ingress", "service/*", "ingress", Severity.HIGH, Severity.CRITICAL, _ingress_widened
    ),
    CatalogueRule(
        "public-invoker",
        "service/*",
        "iam.roles/run.invoker",
        Severity.HIGH,
        Severity.CRITICAL,
        _made_public,
    ),
    CatalogueRule(
        "invoker-check-disabled",
        "service/*",
        "invoker_iam_disabled",
        Severity.HIGH,
        Severity.CRITICAL,
        _turned_on,
    ),
    CatalogueRule("iam", "service/*", "iam*", Severity.HIGH),
    CatalogueRule("request-timeout", "service/*", "template.timeout", Severity.HIGH),
    CatalogueRule("session-affinity", "service/*", "template.session_affinity", Severity.HIGH),
    CatalogueRule("http2-end-to-end", "service/*", "template.containers.*.ports*", Severity.HIGH),
    CatalogueRule(
        "max-concurrency", "service/*", "template.max_instance_request_concurrency", Severity.HIGH
    ),
    CatalogueRule("vpc-egress", "service/*", "template.vpc_access*", Severity.HIGH),
    CatalogueRule("env-var", "service/*", "template.containers.*.env*", Severity.MEDIUM),
    CatalogueRule("secret-volume", "service/*", "template.volumes*", Severity.MEDIUM),
    CatalogueRule(
        "volume-mount", "service/*", "template.containers.*.volume_mounts*", Severity.MEDIUM
    ),
    CatalogueRule("service-account", "service/*", "template.service_account", Severity.MEDIUM),
    CatalogueRule("image", "service/*", "template.containers.*.image", Severity.LOW),
    CatalogueRule("scaling", "service/*", "template.scaling*", Severity.INFO),
    CatalogueRule("scaling", "service/*", "scaling*", Severity.INFO),
    CatalogueRule("labels", "*", "labels*", Severity.INFO),
    CatalogueRule("secret-fingerprint", "secret/*", "*fingerprint*", Severity.MEDIUM),
    CatalogueRule("secret-reference", "secret/*", "references*", Severity.MEDIUM),
    CatalogueRule("secret-policy", "secret/*", "*", Severity.MEDIUM),
    CatalogueRule("auth-capability", "auth-policy/*", "capabilities*", Severity.HIGH),
    CatalogueRule("auth-issuer", "auth-policy/*", "issuer", Severity.HIGH),
    CatalogueRule("auth-audience", "auth-policy/*", "audiences*", Severity.HIGH),
    CatalogueRule("auth-audience", "auth-policy/*", "service_audiences*", Severity.HIGH),
    CatalogueRule("auth-algorithm", "auth-policy/*", "algorithms*", Severity.HIGH),
    CatalogueRule("auth-claims", "auth-policy/*", "required_claims*", Severity.HIGH),
    CatalogueRule("auth-claims", "auth-policy/*", "permissions_claim", Severity.HIGH),
    CatalogueRule("oidc-issuer", "auth-policy/*", "oidc.issuer", Severity.HIGH),
    CatalogueRule("oidc-algorithm", "auth-policy/*", "oidc.algorithms*", Severity.HIGH),
    CatalogueRule("oidc-keys", "auth-policy/*", "oidc.keys*", Severity.MEDIUM),
    CatalogueRule("auth-lifetime", "auth-policy/*", "max_lifetime_seconds", Severity.LOW),
    CatalogueRule("auth-source", "auth-policy/*", "source", Severity.INFO),
    CatalogueRule("probe-subprotocol", "probe/*", "subprotocol", Severity.HIGH),
    CatalogueRule("probe-handshake", "probe/*", "handshake", Severity.HIGH),
    CatalogueRule("probe-status", "probe/*", "status", Severity.HIGH),
    CatalogueRule("probe-health", "probe/*", "fields*", Severity.MEDIUM),
    CatalogueRule("probe-messages", "probe/*", "messages*", Severity.MEDIUM),
    CatalogueRule("probe-headers", "probe/*", "headers*", Severity.MEDIUM),
    CatalogueRule("other", "*", "*", Severity.LOW),
)


def classify(
    resource: str, path: str, kind: FindingKind, baseline: Any, actual: Any
) -> tuple[Severity, str]:
    """Severity and rule name for a finding, from the first matching catalogue rule."""
    for rule in CATALOGUE:
        if rule.matches(resource, path):
            return rule.severity_for(baseline, actual), rule.name
    return Severity.LOW, "other"


# One fact, one finding ------------------------------------------------------------------------
CauseKeys = Callable[[str, "re.Match[str]"], list[str]]


@dataclass(frozen=True)
class CauseRule:
    """Findings at ``resource``/``path`` (a regular expression) stem from the causes that
    ``keys`` names; findings that share any cause are one finding (see ``merge``)."""

    name: str
    resource: str
    path: re.Pattern[str]
    keys: CauseKeys
    follows: bool = False  # only joins a cause that another finding establishes

    def causes(self, resource: str, path: str) -> list[str]:
        """The cause keys of a finding, or none when the rule does not apply."""
        if not fnmatchcase(resource, self.resource):
            return []
        match = self.path.fullmatch(path)
        return self.keys(resource, match) if match else []


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
CAUSES: tuple[CauseRule, ...] = (
    # A resource on one side only: everything that refers to it elsewhere follows from that.
    CauseRule("presence", "*", re.compile(""), _named("presence")),
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
    # A degraded dependency shows in every health field that reports it, and in its defects.
    CauseRule(
        "probe-health",
        "probe/*",
        re.compile(r"fields\..+|defects\.degraded:.+"),
        _named("probe-health"),
    ),
    CauseRule(
        "probe-messages",
        "probe/*",
        re.compile(r"messages|close_code|defects\.messages"),
        _named("probe-messages"),
    ),
    # A secret-looking value in clear: the violation, and its difference from the baseline.
    CauseRule(
        "plain-secret",
        "service/*",
        re.compile(r"template\.containers\.[^.]+\.env\.[^.]+\.value"),
        lambda resource, match: [f"plain-secret:{resource}:{match.group(0)}"],
    ),
    # A secret's versions moved (a rotation): its latest version, fingerprints, resolutions.
    CauseRule(
        "secret-versions",
        "secret/*",
        re.compile(r"versions(?:\..+)?|latest\..+"),
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


def causes_of(resource: str, path: str) -> tuple[list[str], list[str]]:
    """The cause keys a finding at ``resource``/``path`` establishes, and those it only joins
    when another finding establishes them."""
    own = [key for rule in CAUSES if not rule.follows for key in rule.causes(resource, path)]
    joined = [key for rule in CAUSES if rule.follows for key in rule.causes(resource, path)]
    return own, joined
