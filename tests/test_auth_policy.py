"""Auth claim policies and token conformance, with real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.model import DriftReport, Finding
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, project, scenario, service, write_config
from tests.httpserver import DocumentServer, serving

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
ISSUER = "https://auth.acme-staging.example.com"
POLICY: dict[str, Any] = {
    "issuer": ISSUER,
    "audiences": ["backend"],
    "algorithms": ["RS256"],
    "required_claims": ["sub"],
    "capabilities": {"connect": ["read"], "agent_execution": ["read", "write", "agent_access"]},
    "max_lifetime_seconds": 7200,
}
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "backend",
        "sub": "e2e",
        "iat": now,
        "exp": now + 3600,
        "permissions": ["read", "write", "agent_access"],
    }
    key = overrides.pop("key", SIGNING_KEY)
    kid = overrides.pop("kid", "k1")
    algorithm = overrides.pop("algorithm", "RS256")
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    if algorithm == "none":
        return jwt.encode(claims, "", algorithm="none")
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def tampered() -> str:
    header, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["permissions"].append("admin")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.fixture
def idp() -> Iterator[DocumentServer]:
    """An identity provider on 127.0.0.1: discovery, JWKS, and the policy document."""
    with serving() as server:
        server.routes["/.well-known/openid-configuration"] = (
            200,
            {
                "issuer": ISSUER,
                "jwks_uri": f"{server.url}/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            },
        )
        server.routes["/jwks"] = (200, {"keys": [public_jwk(SIGNING_KEY, "k1")]})
        server.routes["/policy.json"] = (200, POLICY)
        yield server


def auth_config(tmp_path: Path, idp: DocumentServer, **auth: Any) -> Path:
    staging_auth = {
        "policy": {"url": f"{idp.url}/policy.json"},
        "oidc": idp.url,
        "tokens": [
            {
                "name": "e2e-fallback",
                "env": "E2E_FALLBACK_JWT",
                "capabilities": ["connect", "agent_execution"],
            }
        ],
        **auth,
    }
    return write_config(
        tmp_path,
        environments={
            "staging": {"project": STAGING, "regions": ["us-central1"], "auth": staging_auth},
            "production": {"project": PROD, "regions": ["us-central1"]},
        },
    )


@pytest.fixture
def estate(emulator: Start) -> EmulatorServer:
    return emulator(
        scenario(
            projects={
                STAGING: project([service("backend", STAGING)], "222222222222"),
                PROD: project([service("backend", PROD)]),
            }
        )
    )


def run_check(run_cli: Run, config: Path, tmp_path: Path) -> tuple[CliResult, DriftReport]:
    if not (tmp_path / "baselines" / "staging.yaml").exists():
        assert run_cli("--config", str(config), "baseline", "staging").code == 0
    result = run_cli("--config", str(config), "check", "staging")
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "staging-vs-staging.json").read_text()
    )
    return result, report


def token_violations(report: DriftReport) -> dict[str, Finding]:
    prefix = "tokens.e2e-fallback."
    return {f.path.removeprefix(prefix): f for f in report.findings if f.path.startswith(prefix)}


def test_conforming_verified_token_is_clean(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", token())
    result, report = run_check(run_cli, auth_config(tmp_path, idp), tmp_path)
    assert result.code == 0, result.stderr
    assert token_violations(report) == {}
    # The token is the runner's: judged in the checked snapshot, never kept in the baseline.
    snapshot = (tmp_path / "reports" / "staging-vs-staging.snapshot.yaml").read_text()
    assert "signature: verified" in snapshot
    baseline = (tmp_path / "baselines" / "staging.yaml").read_text()
    assert "signature:" not in baseline
    assert "thumbprint:" in baseline and "k1:" in baseline


@pytest.mark.parametrize(
    ("make_token", "check", "severity", "text"),
    [
        (
            lambda: token(permissions=["read", "write"]),
            "permission:agent_execution:agent_access",
            "high",
            "token e2e-fallback lacks `agent_access`, required for agent_execution in staging",
        ),
        (
            lambda: token(exp=int(time.time()) - 60, iat=int(time.time()) - 600),
            "expired",
            "high",
            "has expired",
        ),
        (lambda: token(aud="frontend"), "audience", "high", "not for an audience"),
        (lambda: token(iss="https://evil.example.com"), "issuer", "high", "has issuer"),
        (lambda: token(algorithm="none"), "alg_none", "critical", "unsigned (alg none)"),
        (
            lambda: token(algorithm="HS256", key="shared-secret-0123456789abcdef0123"),
            "algorithm",
            "high",
            "uses HS256, not allowed",
        ),
        (tampered, "signature", "critical", "does not verify"),
        (lambda: token(key=OTHER_KEY, kid="k9"), "unknown_key", "high", "does not publish"),
        (lambda: token(sub=None), "required_claim:sub", "high", "lacks claim 'sub'"),
        (lambda: token(exp=int(time.time()) + 86400), "lifetime", "medium", "more than"),
        (lambda: "not-a-jwt", "malformed", "high", "is not a valid JWT"),
    ],
)
def test_each_token_defect_is_its_own_violation(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_token: Callable[[], str],
    check: str,
    severity: str,
    text: str,
) -> None:
    raw = make_token()
    monkeypatch.setenv("E2E_FALLBACK_JWT", raw)
    result, report = run_check(run_cli, auth_config(tmp_path, idp), tmp_path)
    found = token_violations(report)
    assert check in found, found
    assert found[check].severity.value == severity
    assert text in found[check].message
    assert found[check].kind.value == "violation"
    everything = result.stderr + json.dumps(
        [
            p.read_text()
            for p in tmp_path.rglob("*.*")
            if p.suffix in (".json", ".md", ".html", ".yaml")
        ]
    )
    assert raw not in everything
    for part in raw.split("."):
        if len(part) > 16:
            assert part not in everything


def test_unset_token_is_high(
    estate: EmulatorServer, idp: DocumentServer, run_cli: Run, tmp_path: Path
) -> None:
    result, report = run_check(run_cli, auth_config(tmp_path, idp), tmp_path)
    assert token_violations(report)["unset"].severity.value == "high"
    assert result.code == 1


def test_without_jwks_the_signature_is_not_verified(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", token())
    config = auth_config(tmp_path, idp, oidc=None)
    result, report = run_check(run_cli, config, tmp_path)
    assert result.code == 0
    snapshot = (tmp_path / "reports" / "staging-vs-staging.snapshot.yaml").read_text()
    assert "signature: not verified" in snapshot


def test_policy_change_since_baseline_is_high_and_key_rotation_medium(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", token())
    config = auth_config(tmp_path, idp)
    run_check(run_cli, config, tmp_path)
    changed = {
        **POLICY,
        "capabilities": {**POLICY["capabilities"], "connect": ["read", "ws"]},
        "max_lifetime_seconds": 60,
    }
    idp.routes["/policy.json"] = (200, changed)
    idp.routes["/jwks"] = (
        200,
        {"keys": [public_jwk(SIGNING_KEY, "k1"), public_jwk(OTHER_KEY, "k2")]},
    )
    result, report = run_check(run_cli, config, tmp_path)
    assert result.code == 1
    found = {f.path: f.severity.value for f in report.findings if f.kind.value != "violation"}
    assert found["capabilities.connect"] == "high"
    assert found["oidc.keys.k2"] == "medium"
    assert found["max_lifetime_seconds"] == "low"


def test_jwks_with_private_material_is_critical_and_not_recorded(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY))
    idp.routes["/jwks"] = (200, {"keys": [{**private, "kid": "k1"}]})
    monkeypatch.setenv("E2E_FALLBACK_JWT", token())
    result, report = run_check(run_cli, auth_config(tmp_path, idp), tmp_path)
    finding = next(f for f in report.findings if f.path == "oidc.private_key_material")
    assert finding.severity.value == "critical"
    for path in tmp_path.rglob("*.*"):
        assert private["d"][:40] not in path.read_text(errors="replace")


@pytest.mark.parametrize("status", [404, 503])
def test_unreachable_policy_source_makes_the_run_incomplete(
    estate: EmulatorServer,
    idp: DocumentServer,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    monkeypatch.setenv("E2E_FALLBACK_JWT", token())
    config = auth_config(tmp_path, idp)
    run_check(run_cli, config, tmp_path)
    idp.routes["/policy.json"] = (status, {"error": "gone"})
    result, report = run_check(run_cli, config, tmp_path)
    assert result.code == 3
    assert report.status.value == "incomplete"
    assert [e.resource for e in report.errors] == ["auth-policy/auth"]
    assert "policy.json" in report.errors[0].message


def test_policy_from_file_and_service_env(
    emulator: Start, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth_service = service("auth", STAGING)
    auth_service["template"]["containers"][0]["env"].append(
        {"name": "REQUIRED_PERMISSIONS", "value": "read,write,agent_access"}
    )
    emulator(scenario(projects={STAGING: project([auth_service], "2")}))
    (tmp_path / "policy.yaml").write_text(json.dumps(POLICY))
    tokens = [{"name": "e2e-fallback", "env": "E2E_FALLBACK_JWT", "capabilities": ["agent"]}]
    monkeypatch.setenv("E2E_FALLBACK_JWT", token(permissions=["read"]))
    for policy in (
        {"file": "policy.yaml"},
        {"service_env": {"service": "auth", "var": "REQUIRED_PERMISSIONS", "capability": "agent"}},
    ):
        config = write_config(
            tmp_path,
            environments={
                "staging": {
                    "project": STAGING,
                    "regions": ["us-central1"],
                    "auth": {"policy": policy, "tokens": tokens},
                }
            },
        )
        assert (
            run_cli(
                "--config", str(config), "collect", "staging", "-o", str(tmp_path / "s.yaml")
            ).code
            == 0
        )
        snapshot = (tmp_path / "s.yaml").read_text()
        assert "auth-policy/auth:" in snapshot
    assert "permission:agent:agent_access" in snapshot


def test_non_https_policy_url_is_a_config_error(run_cli: Run, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        environments={
            "staging": {
                "project": STAGING,
                "regions": ["us-central1"],
                "auth": {"policy": {"url": "http://auth.example.com/policy.json"}},
            }
        },
    )
    result = run_cli("--config", str(config), "collect", "staging")
    assert result.code == 2
    assert "must use TLS (https:// or wss://)" in result.stderr


def test_policy_from_a_secret(
    emulator: Start, run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = [{"version": 1, "payload": json.dumps(POLICY)}]
    emulator(
        scenario(
            projects={
                STAGING: project(
                    [service("backend", STAGING)],
                    "2",
                    secrets={"auth-claim-policy": {"versions": versions}},
                )
            }
        )
    )
    tokens = [
        {"name": "e2e-fallback", "env": "E2E_FALLBACK_JWT", "capabilities": ["agent_execution"]}
    ]
    monkeypatch.setenv("E2E_FALLBACK_JWT", token(permissions=["read", "write"]))
    config = write_config(
        tmp_path,
        environments={
            "staging": {
                "project": STAGING,
                "regions": ["us-central1"],
                "auth": {"policy": {"secret": "auth-claim-policy"}, "tokens": tokens},
            }
        },
    )
    result = run_cli("--config", str(config), "collect", "staging")
    assert result.code == 0, result.stderr
    assert "source: secret" in result.stdout
    assert "permission:agent_execution:agent_access" in result.stdout


def test_credentials_in_a_policy_url_stay_out_of_error_messages(
    estate: EmulatorServer, idp: DocumentServer, run_cli: Run, tmp_path: Path
) -> None:
    route = "/policy.json?access_token=canary-url-credential-4e1a"
    idp.routes[route] = (200, POLICY)
    config = auth_config(tmp_path, idp, policy={"url": idp.url + route}, oidc=None, tokens=[])
    run_check(run_cli, config, tmp_path)  # baseline while the policy is readable
    idp.routes[route] = (503, {})
    result, report = run_check(run_cli, config, tmp_path)
    assert result.code == 3
    assert report.errors and "/policy.json?…" in report.errors[0].message
    outputs = result.stderr + "".join(p.read_text() for p in (tmp_path / "reports").iterdir())
    assert "canary-url-credential" not in outputs


def test_policy_url_with_an_invalid_port_is_a_config_error(run_cli: Run, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        environments={
            "staging": {
                "project": STAGING,
                "regions": ["us-central1"],
                "auth": {"policy": {"url": "https://auth.example.com:99999/policy.json"}},
            }
        },
    )
    result = run_cli("--config", str(config), "collect", "staging")
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"{config}:" in result.stderr and "invalid port" in result.stderr
