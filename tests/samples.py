"""A deterministic drift report, judged by the real pipeline from two hand-written snapshots.

The snapshots are in the normalized form collectors write (the WebSocket incident, in small):
a backend whose timeout, affinity, ingress, HTTP/2, connector and env drifted, an auth service
made public, a secret pinned to a disabled version, a probe whose proxy drops the subprotocol
(one fact, three observations), a redacted value that differs, and rules that ignore scaling and
suppress one finding. Everything but the report's time and the baseline's path is fixed, and those
are set here too, so renderers can be compared with golden files.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

from driftcheck.baseline import snapshot_text
from driftcheck.compare import CompareOptions
from driftcheck.config import Rules
from driftcheck.model import DriftReport, Provenance, Snapshot
from driftcheck.pipeline import judge

GENERATED_AT = "2026-03-01T06:00:00Z"
FINGERPRINT_A = {"redacted": True, "fingerprint": "hmac-sha256:k=0a1b2c3d:" + "a1" * 32}
FINGERPRINT_B = {"redacted": True, "fingerprint": "hmac-sha256:k=0a1b2c3d:" + "b2" * 32}
DIGEST_A = "sha256:" + "1f0c" * 16
DIGEST_B = "sha256:" + "9a8b" * 16


def _backend() -> dict[str, Any]:
    return {
        "default_uri_disabled": False,
        "iam": {
            "roles/run.invoker": ["serviceAccount:frontend@${project}.iam.gserviceaccount.com"]
        },
        "ingress": "ingress_traffic_internal_load_balancer",
        "invoker_iam_disabled": False,
        "labels": {"app": "backend", "team": "realtime"},
        "launch_stage": "ga",
        "template": {
            "containers": {
                "app": {
                    "env": {
                        "REDIS_HOST": {"value": "redis.${region}.${project}.internal"},
                        "WS_HEARTBEAT_SECONDS": {"value": "25"},
                        "SESSION_SIGNING_KEY": {"value": FINGERPRINT_A},
                        "DOCS_URL": {"value": "https://docs.example.com/ws"},
                        "E2E_BYPASS_KEY": {"secret": "e2e-bypass-key", "version": "latest"},
                    },
                    "image": f"us-docker.pkg.dev/${{project}}/apps/backend@{DIGEST_A}",
                    "ports": {"8080": {"name": "http1"}},
                }
            },
            "max_instance_request_concurrency": 80,
            "scaling": {"max_instance_count": 20, "min_instance_count": 2},
            "service_account": "backend@${project}.iam.gserviceaccount.com",
            "session_affinity": True,
            "timeout": 3600,
            "vpc_access": {
                "connector": "projects/${project}/locations/${region}/connectors/egress-data",
                "egress": "private_ranges_only",
            },
        },
        "traffic": {"latest": {"percent": 100}},
    }


def _auth() -> dict[str, Any]:
    return {
        "default_uri_disabled": False,
        "iam": {"roles/run.invoker": ["serviceAccount:backend@${project}.iam.gserviceaccount.com"]},
        "ingress": "ingress_traffic_internal_only",
        "invoker_iam_disabled": False,
        "labels": {"app": "auth"},
        "launch_stage": "ga",
        "template": {
            "containers": {
                "app": {
                    "env": {"E2E_BYPASS_KEY": {"secret": "e2e-bypass-key", "version": "3"}},
                    "image": "us-docker.pkg.dev/${project}/apps/auth:2.4.1",
                    "ports": {"8080": {"name": "http1"}},
                }
            },
            "max_instance_request_concurrency": 80,
            "scaling": {"max_instance_count": 10, "min_instance_count": 1},
            "service_account": "auth@${project}.iam.gserviceaccount.com",
            "session_affinity": False,
            "timeout": 60,
        },
        "traffic": {"latest": {"percent": 100}},
    }


def _secret(versions: dict[str, str], latest: str, pinned: str) -> dict[str, Any]:
    reference = "service/us-central1/auth:containers.app.env.E2E_BYPASS_KEY"
    return {
        "exists": True,
        "labels": {"purpose": "e2e"},
        "latest": {"fingerprint": FINGERPRINT_A, "version": latest},
        "references": {
            reference: {
                "fingerprint": FINGERPRINT_A,
                "pinned": True,
                "requested": pinned,
                "resolved": pinned,
                "state": versions[pinned],
            },
            "service/us-central1/backend:containers.app.env.E2E_BYPASS_KEY": {
                "fingerprint": FINGERPRINT_A,
                "pinned": False,
                "requested": "latest",
                "resolved": latest,
                "state": "enabled",
            },
        },
        "versions": versions,
    }


def _probe(subprotocol: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "defects": {},
        "handshake": "accepted",
        "headers": {"upgrade": "websocket"},
        "kind": "websocket",
        "messages": ["connection_established"],
        "offered": ["jwt-auth"],
        "status": 101,
    }
    if subprotocol is not None:
        body["subprotocol"] = subprotocol
        body["headers"]["sec-websocket-protocol"] = subprotocol
    else:
        body["defects"] = {
            "subprotocol": {
                "severity": "high",
                "message": "probe backend-ws: the server selected no offered subprotocol "
                "(jwt-auth) in staging",
            }
        }
    return body


def baseline_snapshot() -> Snapshot:
    """Production, as approved."""
    secret = _secret({"1": "destroyed", "2": "disabled", "3": "enabled"}, "3", "3")
    secret["rotation"] = {"rotation_period": 2592000}
    return Snapshot(
        environment="production",
        project="acme-prod",
        project_number="111111111111",
        regions={"us-central1": "us-central1"},
        collected_at="2026-03-01T05:00:00Z",
        tool_version="test",
        fingerprint_key_id="0a1b2c3d",
        resources={
            "probe/backend-ws": _probe("jwt-auth"),
            "secret/e2e-bypass-key": secret,
            "service/us-central1/auth": _auth(),
            "service/us-central1/backend": _backend(),
        },
    )


def checked_snapshot() -> Snapshot:
    """Staging, drifted."""
    backend = copy.deepcopy(_backend())
    template = backend["template"]
    backend["ingress"] = "ingress_traffic_all"
    template.update(timeout=300, session_affinity=False)
    template["scaling"] = {"max_instance_count": 5, "min_instance_count": 0}
    template["vpc_access"] = {
        "connector": "projects/${project}/locations/${region}/connectors/egress-legacy",
        "egress": "all_traffic",
    }
    app = template["containers"]["app"]
    app["image"] = f"us-docker.pkg.dev/${{project}}/apps/backend@{DIGEST_B}"
    app["ports"] = {"8080": {"name": "h2c"}}
    env = app["env"]
    env["REDIS_HOST"] = {"value": "10.128.0.7"}
    del env["WS_HEARTBEAT_SECONDS"]
    env["SESSION_SIGNING_KEY"] = {"value": FINGERPRINT_B}
    env["DOCS_URL"] = {"value": "https://docs.example.com/ws-v2"}
    auth = copy.deepcopy(_auth())
    auth["iam"]["roles/run.invoker"].insert(0, "allUsers")
    auth["template"]["containers"]["app"]["env"]["E2E_BYPASS_KEY"]["version"] = "6"
    return Snapshot(
        environment="staging",
        project="acme-staging",
        project_number="222222222222",
        regions={"us-central1": "us-central1"},
        collected_at="2026-03-01T05:59:00Z",
        tool_version="test",
        fingerprint_key_id="0a1b2c3d",
        resources={
            "probe/backend-ws": _probe(None),
            "secret/e2e-bypass-key": _secret(
                {"5": "destroyed", "6": "disabled", "7": "enabled", "8": "enabled"}, "8", "6"
            ),
            "service/us-central1/auth": auth,
            "service/us-central1/backend": backend,
        },
    )


def sample_rules() -> Rules:
    """Scaling ignored; the docs URL change suppressed for the value it has."""
    return Rules.model_validate(
        {
            "ignore": [
                {
                    "resource": "service/*",
                    "path": "template.scaling.*",
                    "reason": "staging scales to zero between test runs",
                }
            ],
            "suppress": [
                {
                    "resource": "service/us-central1/backend",
                    "path": "template.containers.app.env.DOCS_URL.value",
                    "accepted": "https://docs.example.com/ws-v2",
                    "reason": "docs v2 rolls out to staging first",
                    "owner": "platform",
                    "expires": "2026-12-31",
                }
            ],
        }
    )


def sample_report(directory: Path, baseline_name: str = "baselines/production.yaml") -> DriftReport:
    """staging vs production, judged by the pipeline, with fixed time and a relative path.

    The baseline file is written under ``directory`` (SARIF points at its lines); the report
    names it by ``baseline_name``, relative, as a check run from the repository root does.
    """
    baseline_path = directory / baseline_name
    baseline_path.parent.mkdir(parents=True, exist_ok=True)
    baseline_path.write_text(snapshot_text(baseline_snapshot()), encoding="utf-8")
    provenance = Provenance(
        tool_version="test",
        config_sha256="c" * 64,
        principal="drift-checker@acme-ci.iam.gserviceaccount.com",
        fingerprint_key_id="0a1b2c3d",
        command="driftcheck check staging --against production",
    )
    comparison = judge(
        baseline_snapshot(),
        baseline_path,
        checked_snapshot(),
        sample_rules(),
        provenance,
        CompareOptions(cross_environment=True),
        date(2026, 3, 1),
    )
    report = comparison.report
    return report.model_copy(
        update={
            "generated_at": GENERATED_AT,
            "baseline": report.baseline.model_copy(update={"path": baseline_name}),
        }
    )
