"""Severity rules of auth claim policies and the violations of the tokens checked against them."""

from __future__ import annotations

from driftcheck.catalogue import (
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
)
from driftcheck.model import Severity

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

_TOKEN = Advice(
    "The token fails a check that the service applies to it: requests made with it are refused, "
    "or accepted for less than the tests believe.",
    "Issue the token again so that it passes the auth policy (issuer, audience, algorithm, "
    "expiry, claims), or fix the policy if the token is right.",
)


CATALOGUE: tuple[CatalogueRule, ...] = (
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
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
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
)

CAUSES: tuple[CauseRule, ...] = ()
