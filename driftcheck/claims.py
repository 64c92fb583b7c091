"""Auth claim policies and token conformance.

A :class:`ClaimPolicy` states what an environment's auth service demands of a token. Tokens used
by pipelines are checked against it with PyJWT. A token is never written anywhere: what is kept is
its name, its non-sensitive claims (iss, aud, exp, permissions), a keyed fingerprint, and one
defect per check it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from driftcheck.fingerprint import Fingerprinter

# JWK members that are private or symmetric key material: never thumbprinted, never kept.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


class ClaimPolicy(BaseModel):
    """What an environment's auth service demands of a token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = None
    audiences: list[str] = Field(default_factory=list)
    algorithms: list[str] = Field(default_factory=list)
    required_claims: list[str] = Field(default_factory=list)
    permissions_claim: str = "permissions"
    capabilities: dict[str, list[str]] = Field(
        default_factory=dict, description="Capability -> permissions a token needs for it"
    )
    max_lifetime_seconds: int | None = Field(default=None, gt=0)

    def canonical(self) -> dict[str, Any]:
        """Snapshot form: lists that are sets sorted, unset fields left out."""
        body = self.model_dump(exclude_none=True)
        for name in ("audiences", "algorithms", "required_claims"):
            body[name] = sorted(set(body[name]))
        body["capabilities"] = {cap: sorted(set(p)) for cap, p in sorted(self.capabilities.items())}
        return body


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str | None:
    """RFC 7638 thumbprint of a public JWK (None for key types without one)."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(m not in jwk for m in members):
        return None
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Defect:
    """One failed check of a token."""

    check: str
    severity: str
    message: str


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


@dataclass
class TokenCheck:
    """Checks one token against a policy (and a JWKS, when the environment has one)."""

    name: str
    environment: str
    policy: ClaimPolicy
    keys: Mapping[str, Any] | None  # kid -> PyJWK, or None when no JWKS is configured
    now: float

    def evaluate(
        self, token: str | None, capabilities: list[str], fingerprints: Fingerprinter
    ) -> dict[str, Any]:
        """The token's snapshot body: fingerprint, public claims, signature status, defects."""
        if token is None:
            return self._body(
                {"set": False},
                [
                    Defect(
                        "unset", "high", f"token {self.name} is not set in driftcheck's environment"
                    )
                ],
            )
        body: dict[str, Any] = {"set": True, "fingerprint": fingerprints.redacted(token)}
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self._body(
                body, [Defect("malformed", "high", f"token {self.name} is not a valid JWT")]
            )
        permissions = sorted(set(_as_list(claims.get(self.policy.permissions_claim))))
        body["claims"] = {
            "iss": claims.get("iss"),
            "aud": claims.get("aud"),
            "exp": claims.get("exp"),
            "permissions": permissions,
        }
        signature, defects = self._signature(token, header)
        body["signature"] = signature
        defects += self._claim_defects(claims)
        defects += self._capability_defects(set(permissions), capabilities)
        return self._body(body, defects)

    def _body(self, body: dict[str, Any], defects: list[Defect]) -> dict[str, Any]:
        body["defects"] = {d.check: {"severity": d.severity, "message": d.message} for d in defects}
        return body

    def _signature(self, token: str, header: Mapping[str, Any]) -> tuple[str, list[Defect]]:
        import jwt

        algorithm = str(header.get("alg", ""))
        if algorithm.lower() == "none":
            return "unsigned", [
                Defect("alg_none", "critical", f"token {self.name} is unsigned (alg none)")
            ]
        defects = []
        if self.policy.algorithms and algorithm not in self.policy.algorithms:
            allowed = ", ".join(sorted(self.policy.algorithms))
            defects.append(
                Defect(
                    "algorithm",
                    "high",
                    f"token {self.name} uses {algorithm}, not allowed in {self.environment} "
                    f"(allowed: {allowed})",
                )
            )
        if self.keys is None:
            return "not verified", defects
        key = self.keys.get(str(header.get("kid", "")))
        if key is None:
            defects.append(
                Defect(
                    "unknown_key",
                    "high",
                    f"token {self.name} is signed with a key id that {self.environment}'s JWKS "
                    "does not publish",
                )
            )
            return "unknown key", defects
        try:
            jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            defects.append(
                Defect(
                    "signature",
                    "critical",
                    f"token {self.name} has a signature that does not verify against "
                    f"{self.environment}'s JWKS",
                )
            )
            return "invalid", defects
        return "verified", defects

    def _claim_defects(self, claims: Mapping[str, Any]) -> list[Defect]:
        policy, name, env = self.policy, self.name, self.environment
        defects = []
        if policy.issuer and claims.get("iss") != policy.issuer:
            defects.append(
                Defect(
                    "issuer",
                    "high",
                    f"token {name} has issuer {claims.get('iss')!r}, "
                    f"{env} requires {policy.issuer!r}",
                )
            )
        audiences = set(_as_list(claims.get("aud")))
        if policy.audiences and not audiences & set(policy.audiences):
            defects.append(
                Defect(
                    "audience",
                    "high",
                    f"token {name} is not for an audience "
                    f"{env} accepts ({', '.join(sorted(policy.audiences))})",
                )
            )
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp <= self.now:
            defects.append(Defect("expired", "high", f"token {name} has expired"))
        elif exp is None:
            defects.append(Defect("no_expiry", "medium", f"token {name} never expires"))
        iat = claims.get("iat")
        if (
            policy.max_lifetime_seconds
            and isinstance(exp, int | float)
            and isinstance(iat, int | float)
            and exp - iat > policy.max_lifetime_seconds
        ):
            defects.append(
                Defect(
                    "lifetime",
                    "medium",
                    f"token {name} lives {int(exp - iat)} s, "
                    f"more than {env}'s maximum of {policy.max_lifetime_seconds} s",
                )
            )
        defects.extend(
            Defect(
                f"required_claim:{claim}",
                "high",
                f"token {name} lacks claim {claim!r}, required in {env}",
            )
            for claim in sorted(policy.required_claims)
            if claim not in claims
        )
        return defects

    def _capability_defects(self, permissions: set[str], capabilities: list[str]) -> list[Defect]:
        defects = []
        for capability in sorted(set(capabilities)):
            needed = self.policy.capabilities.get(capability)
            if needed is None:
                defects.append(
                    Defect(
                        f"capability:{capability}",
                        "medium",
                        f"{self.environment}'s policy defines no capability "
                        f"{capability!r} (token {self.name})",
                    )
                )
                continue
            defects.extend(
                Defect(
                    f"permission:{capability}:{permission}",
                    "high",
                    f"token {self.name} lacks `{permission}`, required for {capability} "
                    f"in {self.environment}",
                )
                for permission in sorted(set(needed) - permissions)
            )
        return defects
