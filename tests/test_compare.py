"""Comparison and the severity catalogue, on hand-built snapshots."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from driftcheck.compare import CompareOptions, CompareResult, compare, finding_id
from driftcheck.config import Rules
from driftcheck.fingerprint import Fingerprinter
from driftcheck.model import CollectionErrorRecord, Finding, FindingKind, Severity, Snapshot
from driftcheck.rules import apply_rules

SERVICE: dict[str, Any] = {
    "ingress": "ingress_traffic_internal_only",
    "invoker_iam_disabled": False,
    "iam": {"roles/run.invoker": ["serviceAccount:fe@${project}.iam.gserviceaccount.com"]},
    "template": {
        "timeout": 3600,
        "session_affinity": True,
        "max_instance_request_concurrency": 80,
        "scaling": {"min_instance_count": 2, "max_instance_count": 10},
        "vpc_access": {"connector": "c1", "egress": "private_ranges_only"},
        "containers": {
            "app": {
                "image": "img:1",
                "args": ["--a", "--b"],
                "ports": {"8080": {"name": "http1"}},
                "env": {"REDIS_HOST": {"value": "10.0.0.3"}, "LOG_LEVEL": {"value": "info"}},
            }
        },
    },
}


REGION = "us-central1"
BACKEND = f"service/{REGION}/backend"


def snapshot(env: str = "production", **resources: dict[str, Any]) -> Snapshot:
    """A snapshot read in REGION; ``service__a`` is keyed ``service/us-central1/a``."""

    def key(name: str) -> str:
        kind, rest = name.split("__", 1)
        return f"{kind}/{REGION}/{rest}" if kind == "service" else f"{kind}/{rest}"

    return Snapshot(
        environment=env,
        project="p",
        regions={REGION: REGION},
        collected_at="2026-01-01T00:00:00Z",
        tool_version="t",
        resources={key(name): value for name, value in resources.items()},
    )


def changed(**edits: Any) -> dict[str, Any]:
    """SERVICE with dotted-path edits applied (value None deletes)."""
    body = copy.deepcopy(SERVICE)
    for dotted, value in edits.items():
        *parents, last = dotted.split("__")
        node = body
        for part in parents:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return body


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def compared(after: dict[str, Any], before: dict[str, Any] = SERVICE) -> CompareResult:
    return compare(snapshot(service__backend=before), snapshot("staging", service__backend=after))


def diff(after: dict[str, Any], before: dict[str, Any] = SERVICE) -> list[Finding]:
    result = compared(after, before)
    assert result.gaps == [], result.gaps
    return result.findings


def test_identical_snapshots_have_no_findings() -> None:
    result = compared(copy.deepcopy(SERVICE))
    assert (result.findings, result.gaps) == ([], [])
    (coverage,) = result.coverage
    assert (coverage.kind, coverage.region, coverage.matched) == ("service", REGION, 1)


def test_ingress_widened_is_critical_and_narrowed_is_high() -> None:
    widened = only(diff(changed(ingress="ingress_traffic_all")))
    assert (widened.severity, widened.kind, widened.path) == (
        Severity.CRITICAL,
        FindingKind.CHANGED,
        "ingress",
    )
    assert (widened.baseline, widened.actual) == (
        "ingress_traffic_internal_only",
        "ingress_traffic_all",
    )
    narrowed = only(diff(SERVICE, before=changed(ingress="ingress_traffic_all")))
    assert narrowed.severity is Severity.HIGH


def test_public_invoker_is_critical() -> None:
    public = changed(iam={"roles/run.invoker": ["allUsers", *SERVICE["iam"]["roles/run.invoker"]]})
    finding = only(diff(public))
    assert finding.severity is Severity.CRITICAL
    assert finding.path == "iam.roles/run.invoker"
    assert "allUsers" in finding.actual


def test_invoker_check_disabled_is_critical() -> None:
    assert only(diff(changed(invoker_iam_disabled=True))).severity is Severity.CRITICAL


def test_websocket_settings_are_high() -> None:
    findings = diff(
        changed(
            template__timeout=300,
            template__session_affinity=False,
            template__max_instance_request_concurrency=1000,
            template__vpc_access={"connector": "c2", "egress": "private_ranges_only"},
        )
    )
    by_path = {f.path: f.severity for f in findings}
    assert by_path == {
        "template.timeout": Severity.HIGH,
        "template.session_affinity": Severity.HIGH,
        "template.max_instance_request_concurrency": Severity.HIGH,
        "template.vpc_access.connector": Severity.HIGH,
    }


def test_http2_end_to_end_is_high() -> None:
    body = changed()
    body["template"]["containers"]["app"]["ports"]["8080"]["name"] = "h2c"
    finding = only(diff(body))
    assert (finding.path, finding.severity) == (
        "template.containers.app.ports.8080.name",
        Severity.HIGH,
    )


def test_env_vars_medium_image_low_scaling_info() -> None:
    body = changed(template__scaling={"min_instance_count": 0, "max_instance_count": 10})
    app = body["template"]["containers"]["app"]
    app["image"] = "img:2"
    del app["env"]["LOG_LEVEL"]
    app["env"]["NEW_FLAG"] = {"value": "on"}
    app["env"]["REDIS_HOST"] = {"value": "10.9.9.9"}
    found = {(f.path, f.kind): f.severity for f in diff(body)}
    assert found == {
        ("template.containers.app.env.LOG_LEVEL", FindingKind.REMOVED): Severity.MEDIUM,
        ("template.containers.app.env.NEW_FLAG", FindingKind.ADDED): Severity.MEDIUM,
        ("template.containers.app.env.REDIS_HOST.value", FindingKind.CHANGED): Severity.MEDIUM,
        ("template.containers.app.image", FindingKind.CHANGED): Severity.LOW,
        ("template.scaling.min_instance_count", FindingKind.CHANGED): Severity.INFO,
    }


def test_changed_map_is_reported_key_by_key_not_whole() -> None:
    body = changed()
    body["template"]["vpc_access"]["egress"] = "all_traffic"
    finding = only(diff(body))
    assert finding.path == "template.vpc_access.egress"
    assert finding.actual == "all_traffic"


def test_ordered_list_is_one_changed_value() -> None:
    body = changed()
    body["template"]["containers"]["app"]["args"] = ["--b", "--a", "--c"]
    finding = only(diff(body))
    assert finding.path == "template.containers.app.args"
    assert finding.actual == ["--b", "--a", "--c"]


def test_resource_on_one_side_only_is_a_finding() -> None:
    result = compare(
        snapshot(service__a=SERVICE, service__b=SERVICE),
        snapshot("staging", service__b=SERVICE, service__c=SERVICE),
    )
    kinds = {(f.resource, f.kind, f.severity) for f in result.findings}
    assert kinds == {
        (f"service/{REGION}/a", FindingKind.REMOVED, Severity.HIGH),
        (f"service/{REGION}/c", FindingKind.ADDED, Severity.HIGH),
    }
    (coverage,) = result.coverage
    assert (coverage.matched, coverage.only_in_baseline, coverage.only_in_actual) == (1, 1, 1)


def test_finding_ids_are_stable_and_distinct() -> None:
    first = only(diff(changed(template__timeout=300)))
    second = only(diff(changed(template__timeout=60)))
    assert first.id == second.id == finding_id(BACKEND, "template.timeout", FindingKind.CHANGED)
    assert first.id != finding_id(BACKEND, "template.timeout", FindingKind.ADDED)


def test_fingerprints_within_environment_and_incomparable_keys() -> None:
    one, other = Fingerprinter(b"key-one-0123456789"), Fingerprinter(b"key-two-0123456789")

    def with_secret(fingerprints: Fingerprinter, value: str) -> dict[str, Any]:
        body = changed()
        body["template"]["containers"]["app"]["env"]["TOKEN"] = {
            "value": fingerprints.redacted(value)
        }
        return body

    rotated = compare(
        snapshot(service__backend=with_secret(one, "v1")),
        snapshot(service__backend=with_secret(one, "v2")),
    )
    assert rotated.gaps == []
    assert only(rotated.findings).severity is Severity.MEDIUM
    assert only(rotated.findings).path == "template.containers.app.env.TOKEN.value"
    assert "v1" not in only(rotated.findings).message
    # Another key: not a finding but a gap, which makes the verdict incomplete.
    rekeyed = compare(
        snapshot(service__backend=with_secret(one, "v1")),
        snapshot(service__backend=with_secret(other, "v1")),
    )
    assert rekeyed.findings == []
    (gap,) = rekeyed.gaps
    assert (gap.source, gap.resource, gap.path) == (
        "compare",
        BACKEND,
        "template.containers.app.env.TOKEN.value",
    )
    assert "different keys" in gap.message
    assert f"k={one.key_id}" in gap.message and f"k={other.key_id}" in gap.message
    across = compare(
        snapshot(service__backend=with_secret(one, "prod-value")),
        snapshot("staging", service__backend=with_secret(one, "staging-value")),
        CompareOptions(cross_environment=True),
    )
    # Redacted does not mean uncompared: a secret-looking plain value that differs across
    # environments is reported, without revealing either side.
    assert across.gaps == []
    finding = only(across.findings)
    assert finding.message == "template.containers.app.env.TOKEN.value: value differs (redacted)"
    assert finding.severity is Severity.MEDIUM
    same = compare(
        snapshot(service__backend=with_secret(one, "shared-value")),
        snapshot("staging", service__backend=with_secret(one, "shared-value")),
        CompareOptions(cross_environment=True),
    )
    assert (same.findings, same.gaps) == ([], [])


def test_unreadable_resources_are_not_reported_as_drift() -> None:
    error = CollectionErrorRecord(source="run", resource=f"service/{REGION}/a", message="403")
    actual = snapshot("staging", service__b=SERVICE).model_copy(update={"errors": [error]})
    result = compare(snapshot(service__a=SERVICE, service__b=SERVICE), actual)
    assert (result.findings, result.gaps) == ([], [])
    (coverage,) = result.coverage
    assert coverage.matched == 1
    assert [n.resource for n in coverage.not_compared] == [f"service/{REGION}/a"]
    assert "403" in coverage.not_compared[0].why


def test_user_rules_override_ignore_and_suppress() -> None:
    body = changed(
        template__timeout=300,
        template__scaling={"min_instance_count": 0, "max_instance_count": 10},
    )
    body["template"]["containers"]["app"]["image"] = "img:2"
    findings = diff(body)
    timeout_id = finding_id(BACKEND, "template.timeout", FindingKind.CHANGED)
    rules = Rules.model_validate(
        {
            "severity": [
                {
                    "resource": "service/*",
                    "path": "template.containers.*.image",
                    "severity": "critical",
                }
            ],
            "ignore": [{"path": "template.scaling.*", "reason": "scales to zero"}],
            "suppress": [
                {
                    "id": timeout_id,
                    "accepted": 300,
                    "reason": "accepted",
                    "owner": "ops",
                    "expires": "2026-12-31",
                },
                {
                    "id": "0000",
                    "accepted": None,
                    "reason": "old",
                    "owner": "ops",
                    "expires": "2030-01-01",
                },
            ],
        }
    )
    result = {f.path: f for f in apply_rules(findings, rules, date(2026, 6, 1))}
    assert result["template.containers.app.image"].severity is Severity.CRITICAL
    assert result["template.containers.app.image"].rule == "rules.severity[0]"
    assert result["template.scaling.min_instance_count"].ignored
    assert result["template.scaling.min_instance_count"].reason == "scales to zero"
    assert result["template.timeout"].suppressed
    assert "ops" in (result["template.timeout"].reason or "")
    assert "stale suppression" in result["rules.suppress[1]"].message

    expired = {f.path: f for f in apply_rules(findings, rules, date(2027, 1, 1))}
    assert not expired["template.timeout"].suppressed
    assert "expired" in expired["rules.suppress[0]"].message

    # A suppression accepts a value: the timeout moving on to 60 is active again.
    moved_on = {f.path: f for f in diff(changed(template__timeout=60))}
    again = {f.path: f for f in apply_rules(list(moved_on.values()), rules, date(2026, 6, 1))}
    assert not again["template.timeout"].suppressed
    assert "accepted 300" in again["template.timeout"].message


def test_public_invoker_role_added_whole_is_critical() -> None:
    body = changed()
    body["iam"] = {**SERVICE["iam"], "roles/run.invoker": ["allUsers"]}
    before = changed(iam={})
    finding = only(diff(body, before=before))
    assert (finding.kind, finding.severity) == (FindingKind.ADDED, Severity.CRITICAL)


def test_security_settings_turned_off_are_critical_and_narrowing_is_not_widening() -> None:
    def severity_of(**edits: Any) -> Severity:
        result = compare(
            snapshot(service__backend=SERVICE), snapshot(service__backend=changed(**edits))
        )
        return only(result.findings).severity

    base = copy.deepcopy(SERVICE)
    base["iap_enabled"] = True
    base["default_uri_disabled"] = True
    for field in ("iap_enabled", "default_uri_disabled"):
        turned_off = compare(
            snapshot(service__backend=base),
            snapshot(service__backend={**base, field: False}),
        )
        assert only(turned_off.findings).severity is Severity.CRITICAL
    assert severity_of(ingress="ingress_traffic_none") is Severity.HIGH
    assert severity_of(custom_audiences=["https://ws.example.com"]) is Severity.HIGH
    assert (
        severity_of(template__scaling={"min_instance_count": 2, "max_instance_count": 2})
        is Severity.MEDIUM
    )


def test_a_suppression_never_echoes_what_it_accepted_against_a_redacted_value() -> None:
    fingerprints = Fingerprinter(b"key-one-0123456789")
    body = changed()
    body["template"]["containers"]["app"]["env"]["TOKEN"] = {
        "value": fingerprints.redacted("new-secret")
    }
    before = changed()
    before["template"]["containers"]["app"]["env"]["TOKEN"] = {
        "value": fingerprints.redacted("old-secret")
    }
    finding = only(
        compare(snapshot(service__backend=before), snapshot(service__backend=body)).findings
    )
    # Someone wrote the plaintext itself as the accepted value: it must not reach any report.
    rules = Rules.model_validate(
        {
            "suppress": [
                {
                    "id": finding.id,
                    "accepted": "hunter2-plaintext-canary",
                    "reason": "r",
                    "owner": "o",
                    "expires": "2099-01-01",
                }
            ]
        }
    )
    [judged] = apply_rules([finding], rules, date(2026, 1, 1))
    assert judged.active
    assert "hunter2-plaintext-canary" not in judged.model_dump_json()
    assert "accepted another fingerprint" in judged.message


def test_a_region_in_no_snapshot_header_is_a_gap_not_a_silent_skip() -> None:
    """A hand-edited snapshot keyed in a region neither side says it read: not CLEAN."""
    stray = "service/europe-west1/a"

    def with_stray(base: Snapshot, body: dict[str, Any]) -> Snapshot:
        return base.model_copy(update={"resources": {**base.resources, stray: body}})

    result = compare(
        with_stray(snapshot(service__backend=SERVICE), SERVICE),
        with_stray(snapshot(service__backend=SERVICE), changed(template__timeout=1)),
    )
    assert result.findings == []
    assert [(g.resource, g.message) for g in result.gaps] == [
        (stray, "region europe-west1 is in no snapshot's regions")
    ]
