"""Attacks on driftcheck's promises: secret canaries everywhere, markup injection through the
whole pipeline into a real browser, and a read-only footprint on the APIs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.probes import ProbeServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport
from tests.conftest import CliResult
from tests.factories import PROD, STAGING, invoker_policy, project, scenario, service, write_config
from tests.hostile import HOSTILE

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]


def canary(kind: str) -> str:
    return f"canary{kind}{uuid.uuid4().hex}"


class Canaries:
    """Unique canaries for every secret payload, secret-looking env value and token."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, kind: str) -> str:
        value = canary(kind)
        self.values.append(value)
        return value

    def word(self, kind: str) -> str:
        """A low-entropy canary (``pw-<kind>-canary-<n>``): no entropy rule can catch it, so
        only the rule meant for its place can."""
        value = f"pw-{kind}-canary-{len(self.values)}"
        self.values.append(value)
        return value

    def literal(self, value: str) -> str:
        """A canary of a fixed shape (a token format), searched for like the others."""
        self.values.append(value)
        return value

    def token(self) -> str:
        value = jwt.encode(
            {
                "iss": "https://auth.example.com",
                "aud": "backend",
                "exp": int(time.time()) + 600,
                "permissions": ["read"],
                "sub": self.new("sub"),
            },
            self.new("hmac-key-for-token"),
            algorithm="HS256",
        )
        self.values.append(value)
        self.values.extend(part for part in value.split(".") if len(part) > 16)
        return value


def plant_everywhere(backend: dict[str, Any], canaries: Canaries) -> None:
    """A canary in each place real Cloud Run services keep secrets (and each token format)."""
    c = canaries.word
    container = backend["template"]["containers"][0]
    container["env"] += [
        {"name": name, "value": c(name.lower().replace("_", ""))}
        for name in (
            "DB_PASS",
            "MYSQL_PWD",
            "SMTP_PASS",
            "ADMIN_PW",
            "REDIS_PASS",
            "PGPASSWORD",
            "JWTSECRET",
        )
    ]
    sa_key = '{"type": "service_account", "private_key": "' + c("sakey") + '"}'
    container["env"] += [
        {"name": "GOOGLE_SERVICE_ACCOUNT", "value": sa_key},
        {"name": "SLACK", "value": "https://hooks.slack.com/services/T0/B0/" + c("slack")},
        {"name": "DISCORD", "value": "https://discord.com/api/webhooks/1234/" + c("discord")},
        {"name": "TEAMS", "value": "https://acme.webhook.office.com/webhookb2/" + c("teams")},
        {"name": "PG_URL", "value": f"postgres://u:{c('slashpw')}/x@db:5432/app"},
        {"name": "JDBC", "value": f"jdbc:mysql://db/app?user=u&password={c('jdbc')}"},
        {"name": "ADO", "value": f"Server=db;User Id=sa;Password={c('ado')};"},
        {"name": "NPMRC", "value": f"//registry.npmjs.org/:_authToken={c('npm')}"},
        {"name": "AWS_ID", "value": canaries.literal("ABIA" + "Q" * 16)},
        {"name": "HEX", "value": canaries.literal("9f3a" * 6)},
        {"name": "UPPER", "value": canaries.literal("QWERTYUIOPASDFGHJKLZXCVBNMQWERTY")},
        {"name": "PUTTY", "value": "PuTTY-User-Key-File-2: ssh-rsa\n" + c("putty")},
        {"name": "UPSTREAM_HEADERS", "value": f"Authorization: Bearer {c('bearer')}"},
        {"name": "CONFIG_JSON", "value": '{"password": "' + c("jsonpw") + '", "port": 5432}'},
        {"name": "OAUTH_CLIENT", "value": '{"client_secret": "' + c("clientsecret") + '"}'},
        {"name": "REPO", "value": f"https://{c('urltoken')}@github.com/acme/app.git"},
        {"name": "PGP", "value": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n" + c("pgp")},
        {"name": "CREDS", "value": c("creds")},
        {"name": "HMAC", "value": c("hmac")},
        {"name": "PASSCODE", "value": c("passcode")},
        {"name": "ADMIN_PASSWORD", "value": canaries.literal("Winter.20247")},
        {"name": "HF", "value": canaries.literal("hf_" + "Q" * 34)},
        {"name": "MAILGUN", "value": canaries.literal("key-" + "3" * 32)},
        {"name": "GOOGLE_OAUTH", "value": canaries.literal("GOCSPX-" + "Z" * 28)},
    ]
    container["args"] = [
        f"--api-key={canaries.literal('AKIA' + 'Z' * 16)}",
        "--password",
        c("argpw"),
        f"--dsn=postgres://u:{c('argurl')}@db/app",
    ]
    container["command"] = ["/app", f"--token={c('cmdtoken')}"]
    container["livenessProbe"] = {
        "httpGet": {
            "path": f"/health?token={c('probepath')}",
            "httpHeaders": [
                {"name": "Authorization", "value": f"Bearer {c('probebearer')}"},
                {"name": "X-Api-Key", "value": "AIza" + c("probekey")[:35].ljust(35, "x")},
            ],
        }
    }
    backend["labels"] = {**backend.get("labels", {}), "api-token": c("label")}
    backend["annotations"] = {"deploy/secret": c("annotation")}
    backend["description"] = f"uses password={c('description')}"
    backend["buildConfig"] = {"environmentVariables": {"NPM_TOKEN": c("buildenv")}}
    backend["template"]["annotations"] = {
        "x/webhook": f"https://hooks.slack.com/services/T/B/{c('tannot')}"
    }


def canary_estate(canaries: Canaries) -> Scenario:
    def env_project(project_id: str, number: str) -> dict[str, Any]:
        backend = service("backend", project_id)
        backend["template"]["containers"][0]["env"] += [
            {"name": "DB_PASSWORD", "value": canaries.new("dbpass")},
            {"name": "STRIPE_KEY", "value": "sk_live_" + canaries.new("stripe")},
            {"name": "DATABASE_URL", "value": f"postgres://app:{canaries.new('url')}@db/app"},
            {
                "name": "E2E",
                "valueSource": {"secretKeyRef": {"secret": "e2e", "version": "latest"}},
            },
            {"name": "OLD", "valueSource": {"secretKeyRef": {"secret": "e2e", "version": "1"}}},
        ]
        plant_everywhere(backend, canaries)
        versions = [
            {"version": 1, "state": "DISABLED", "payload": canaries.new("payload")},
            {"version": 2, "state": "ENABLED", "payload": canaries.new("payload")},
        ]
        return project(
            [backend],
            number,
            iam={"backend": invoker_policy("user:a@x.com")},
            secrets={
                "e2e": {"versions": versions},
                "extra": {"versions": [{"version": 1, "payload": canaries.new("extra")}]},
            },
        )

    return scenario(projects={PROD: env_project(PROD, "1111"), STAGING: env_project(STAGING, "2")})


def test_no_canary_reaches_any_output(
    emulator: Start,
    run_cli: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    canaries = Canaries()
    server = emulator(canary_estate(canaries))
    monkeypatch.setenv("E2E_HELD", canaries.new("held"))
    monkeypatch.setenv("E2E_TOKEN", canaries.token())
    auth = {"tokens": [{"name": "e2e", "env": "E2E_TOKEN", "capabilities": ["x"]}]}
    secrets = [{"name": "e2e", "expect_env": "E2E_HELD"}, "extra"]
    probes = ProbeServer().start()
    request.addfinalizer(probes.stop)
    probe = [
        {
            "name": "ws",
            "websocket": probes.url("ws", "/echotoken/ws"),
            "token_env": "E2E_TOKEN",
            "subprotocols": ["jwt-auth"],
            "timeout_seconds": 2,
        },
        {"name": "health", "http": probes.url("http", "/health/ok"), "token_env": "E2E_TOKEN"},
    ]
    common = {"regions": ["us-central1"], "secrets": secrets, "auth": auth, "probes": probe}
    config = write_config(
        tmp_path,
        environments={
            "production": {"project": PROD, **common},
            "staging": {"project": STAGING, **common},
        },
    )
    c = ["--config", str(config)]
    snapshot = str(tmp_path / "snap.yaml")
    runs = []
    for verbose in ([], ["-v"]):
        runs += [
            run_cli(*verbose, *c, "collect", "staging"),
            run_cli(*verbose, *c, "collect", "staging", "-o", snapshot),
            run_cli(*verbose, *c, "baseline", "production"),
            run_cli(*verbose, *c, "baseline", "production", "--check"),
            run_cli(*verbose, *c, "check", "production"),
            run_cli(*verbose, *c, "check", "staging", "--against", "production"),
            run_cli(*verbose, *c, "--no-secret-payloads", "check", "staging"),
            run_cli(
                *verbose,
                *c,
                "diff",
                str(tmp_path / "baselines" / "production.yaml"),
                snapshot,
                "--out-dir",
                str(tmp_path / "diff"),
            ),
        ]
    server.add_fault(FaultSpec(path=":access$", status=403))
    server.add_fault(FaultSpec(path="services/backend:getIamPolicy$", status=503))
    for verbose in ([], ["-v"]):
        runs += [
            run_cli(*verbose, *c, "check", "staging", "--against", "production"),
            run_cli(*verbose, *c, "baseline", "staging"),
            run_cli(*verbose, *c, "collect", "production"),
        ]
    assert {r.code for r in runs} >= {0, 1, 3}, runs[0].stderr
    streams = json.dumps([r.__dict__ for r in runs])
    files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert len(files) > 10
    for value in canaries.values:
        assert value not in streams, value
        for path, data in files.items():
            assert value.encode() not in data, (value, path)
    assert {method for method, _path in server.calls} == {"GET"}  # read-only


def hostile_estate() -> Scenario:
    prod = service("backend", PROD)
    staging = service("backend", STAGING)
    staging["labels"] = {f"l{i}": text for i, text in enumerate(HOSTILE)}
    staging["template"]["containers"][0]["image"] = HOSTILE[1]
    staging["template"]["containers"][0]["env"] += [
        {"name": f"HOSTILE_{i}", "value": text} for i, text in enumerate(HOSTILE)
    ]
    staging["annotations"] = {"note": HOSTILE[0]}
    return scenario(
        projects={
            PROD: project([prod], "1"),
            STAGING: project([staging, service("auth", STAGING)], "2"),
        },
        faults=[FaultSpec(path="auth:getIamPolicy$", status=403, message=HOSTILE[1])],
    )


def test_hostile_strings_through_the_pipeline_stay_inert(
    emulator: Start, run_cli: Run, tmp_path: Path, browser: Browser
) -> None:
    emulator(hostile_estate())
    config = write_config(tmp_path)
    assert run_cli("--config", str(config), "baseline", "production").code == 0
    result = run_cli("--config", str(config), "check", "staging", "--against", "production")
    assert result.code == 3
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    out = tmp_path / "reports"
    report = DriftReport.model_validate_json((out / "staging-vs-production.json").read_text())
    assert any(HOSTILE[0] in json.dumps(f.actual) for f in report.findings)
    assert report.errors and HOSTILE[1] in report.errors[0].message

    markdown = (out / "staging-vs-production.md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert rows and all(r.replace("\\|", "").count(" | ") == rows[0].count(" | ") for r in rows)
    assert "<script>" not in markdown and "<img" not in markdown

    page = browser.new_page()
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "staging-vs-production.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []
    assert [url for url in requests if not url.startswith("file://")] == []
    assert page.locator("img").count() == 0 and page.locator("script").count() == 1
    assert "<script>window.__pwned = 1" in page.locator("body").inner_text()
    page.close()
