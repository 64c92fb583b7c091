"""Severity rules of Secret Manager secrets, their violations, and which findings share a cause."""

from __future__ import annotations

import re

from driftcheck import remedies
from driftcheck.catalogue import (
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
    named,
)
from driftcheck.model import Severity

SECRET_VALUE = Advice(
    "The secret's value differs where it must be the same: whatever holds or compares it (a test "
    "suite, another service) now has another key.",
    "Add the expected value as a new version (gcloud secrets versions add SECRET --data-file=-) "
    "or point the holder at the version that matches.",
)

SECRET_REFERENCE = Advice(
    "What a service's reference to this secret asks for, or resolves to, differs: the service "
    "reads another version of the value than the baseline's.",
    "gcloud run services update SERVICE --update-secrets=NAME=SECRET:VERSION (jobs update, "
    "worker-pools update for those)",
)

SECRET_POLICY = Advice(
    "The secret's replication, rotation or expiry differ: a secret that no longer rotates, or "
    "expires, behaves differently over time than the baseline's.",
    "gcloud secrets update SECRET --rotation-period=… --next-rotation-time=… (or "
    "--remove-rotation-schedule); replication can only be set when the secret is created.",
)

_REFERENCE_FIELDS = r"(?:\.(?P<field>pinned|requested|resolved|state|fingerprint))?"


def _reference(resource: str, match: re.Match[str]) -> list[str]:
    """The place that uses a secret, seen from the secret (``references.<where>``)."""
    where = match.group("where")
    keys = [f"secret-reference:{where}", f"presence:{where.split(':', 1)[0]}"]
    if match.group("field") in ("resolved", "fingerprint"):
        # What a reference resolves to moves with the secret's versions (a rotation).
        keys.append(f"secret-versions:{resource}")
    return keys


CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule(
        "secret-fingerprint", "secret/*", "*fingerprint*", Severity.MEDIUM, advice=SECRET_VALUE
    ),
    CatalogueRule(
        "secret-reference", "secret/*", "references*", Severity.MEDIUM, advice=SECRET_REFERENCE
    ),
    CatalogueRule("secret-policy", "secret/*", "*", Severity.MEDIUM, advice=SECRET_POLICY),
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
)

CAUSES: tuple[CauseRule, ...] = (
    # A secret's versions moved (a rotation): its latest version, fingerprints, resolutions.
    CauseRule(
        "secret-versions",
        "secret/*",
        re.compile(r"versions(?:\..+)?|latest(?:\..+)?"),
        named("secret-versions"),
    ),
    # One reference to a secret: its violation, what it asks for, and the service's own setting.
    CauseRule(
        "secret-reference",
        "secret/*",
        re.compile(rf"references\.(?P<where>.+?){_REFERENCE_FIELDS}"),
        _reference,
    ),
)
