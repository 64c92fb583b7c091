"""Normalization: env-neutral, explicit defaults, no volatile fields, no secrets in clear."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.service.normalize import normalize_service
from driftcheck.normalize import canonical, prune
from driftcheck.sensitive import looks_secret

FINGERPRINTS = Fingerprinter(b"unit-test-key-0123456789")


def raw_service(project: str = "acme-prod", **template: Any) -> dict[str, Any]:
    """A service in ``Service.to_dict`` form (snake_case, enum names, duration strings)."""
    return {
        "name": f"projects/{project}/locations/us-central1/services/backend",
        "uid": "5b1c",
        "generation": "7",
        "etag": '"abc"',
        "create_time": "2026-01-01T00:00:00Z",
        "update_time": "2026-02-01T00:00:00Z",
        "creator": "someone@example.com",
        "uri": "https://backend-xyz-uc.a.run.app",
        "conditions": [{"type": "Ready"}],
        "reconciling": False,
        "observed_generation": "7",
        "latest_ready_revision": "backend-00007-abc",
        "ingress": "INGRESS_TRAFFIC_ALL",
        "annotations": {"run.googleapis.com/client-name": "gcloud", "owner": "team-a"},
        "template": {
            "revision": "backend-00007-abc",
            "timeout": "300s",
            "service_account": f"backend@{project}.iam.gserviceaccount.com",
            "vpc_access": {
                "connector": f"projects/{project}/locations/us-central1/connectors/egress",
                "egress": "ALL_TRAFFIC",
            },
            "containers": [
                {
                    "name": "app",
                    "image": "gcr.io/x/app:1",
                    "env": [
                        {"name": "REDIS_HOST", "value": "redis.us-central1.internal"},
                        {"name": "API_TOKEN", "value": "canary-token-value-123"},
                        {
                            "name": "BYPASS",
                            "value_source": {
                                "secret_key_ref": {
                                    "secret": "projects/111/secrets/e2e-key",
                                    "version": "7",
                                }
                            },
                        },
                    ],
                }
            ],
            **template,
        },
    }


def normalize(raw: dict[str, Any], project: str = "acme-prod") -> dict[str, Any]:
    neutral = Neutralizer(project=project, region="us-central1", project_number="111")
    return normalize_service(raw, {"bindings": []}, neutral, FINGERPRINTS)


def test_volatile_fields_are_dropped() -> None:
    body = normalize(raw_service())
    for volatile in (
        "name",
        "uid",
        "generation",
        "etag",
        "create_time",
        "update_time",
        "creator",
        "uri",
        "conditions",
        "reconciling",
        "observed_generation",
        "latest_ready_revision",
    ):
        assert volatile not in body
    assert "revision" not in body["template"]
    assert body["annotations"] == {"owner": "team-a"}


def test_project_and_region_become_placeholders_so_environments_compare_equal() -> None:
    prod = normalize(raw_service("acme-prod"), "acme-prod")
    staging = normalize(raw_service("acme-staging"), "acme-staging")
    assert prod == staging
    assert prod["template"]["vpc_access"]["connector"] == (
        "projects/${project}/locations/${region}/connectors/egress"
    )
    assert prod["template"]["service_account"] == "backend@${project}.iam.gserviceaccount.com"


def test_enums_lower_case_and_durations_in_seconds() -> None:
    body = normalize(raw_service(timeout="3600s"))
    assert body["ingress"] == "ingress_traffic_all"
    assert body["template"]["vpc_access"]["egress"] == "all_traffic"
    assert body["template"]["timeout"] == 3600


def test_defaults_are_explicit_so_unset_equals_default() -> None:
    unset = raw_service()
    del unset["template"]["timeout"]
    explicit = raw_service(
        timeout="300s",
        max_instance_request_concurrency=80,
        session_affinity=False,
        scaling={"min_instance_count": 0, "max_instance_count": 100},
    )
    assert normalize(unset) == normalize(explicit)
    body = normalize(unset)
    assert body["template"]["timeout"] == 300
    assert body["template"]["containers"]["app"]["ports"] == {"8080": {"name": "http1"}}
    assert body["invoker_iam_disabled"] is False


def test_identity_lists_become_maps() -> None:
    body = normalize(raw_service())
    env = body["template"]["containers"]["app"]["env"]
    assert set(env) == {"REDIS_HOST", "API_TOKEN", "BYPASS"}
    assert env["REDIS_HOST"] == {"value": "redis.${region}.internal"}


def test_secret_references_keep_name_and_version() -> None:
    env = normalize(raw_service())["template"]["containers"]["app"]["env"]
    assert env["BYPASS"] == {"secret": "e2e-key", "version": "7"}


def test_secret_looking_value_is_replaced_by_keyed_fingerprint() -> None:
    env = normalize(raw_service())["template"]["containers"]["app"]["env"]
    value = env["API_TOKEN"]["value"]
    assert value["redacted"] is True
    assert value["fingerprint"] == FINGERPRINTS.fingerprint("canary-token-value-123")
    assert "canary-token-value-123" not in repr(normalize(raw_service()))


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("DB_PASSWORD", "hunter2", True),
        ("STRIPE", "sk_live_abcdef", True),
        ("SOME_VALUE", "AKIAIOSFODNN7EXAMPLE", True),
        ("DATABASE_URL", "postgres://app:s3cret@db:5432/app", True),
        ("BLOB", "q8Zr1XvT4kLm0PwYs7Nd2Hc9Jf6Gb3Ue", True),
        ("REDIS_HOST", "10.0.0.3", False),
        ("LOG_LEVEL", "info", False),
        ("IMAGE", "us-docker.pkg.dev/acme/apps/backend:1.2.3", False),
        ("SIGNING_KEY_ID", "key-2026", False),
    ],
)
def test_secret_detection(name: str, value: str, secret: bool) -> None:
    assert looks_secret(name, value) is secret


def test_normalizing_twice_equals_normalizing_once() -> None:
    neutral = Neutralizer(project="acme-prod", region="us-central1")
    once = normalize(raw_service())
    assert prune(canonical(once, neutral)) == once


def test_the_same_thing_spelt_twice_normalizes_once() -> None:
    """Unspecified enums, CPU and memory quantities, order-free lists: one canonical value."""

    def with_container(**container: Any) -> dict[str, Any]:
        raw = raw_service()
        raw["template"]["containers"][0].update(container)
        return raw

    unset = normalize(with_container())
    spelled = raw_service()
    spelled["ingress"] = "INGRESS_TRAFFIC_UNSPECIFIED"
    spelled["launch_stage"] = "LAUNCH_STAGE_UNSPECIFIED"
    assert normalize(spelled)["ingress"] == "ingress_traffic_all"
    assert normalize(spelled)["launch_stage"] == "ga"
    assert normalize(spelled)["traffic"] == {"latest": {"percent": 100}}
    limits = unset["template"]["containers"]["app"]["resources"]["limits"]
    assert limits == {"cpu": "1000m", "memory": "512Mi"}
    for cpu, memory in (("1", "0.5Gi"), ("1000m", "512Mi"), ("1.0", "536870912")):
        other = normalize(with_container(resources={"limits": {"cpu": cpu, "memory": memory}}))
        assert other["template"]["containers"]["app"]["resources"]["limits"] == limits
    two = normalize(with_container(resources={"limits": {"cpu": "2", "memory": "1Gi"}}))
    assert two["template"]["containers"]["app"]["resources"]["limits"] == {
        "cpu": "2000m",
        "memory": "1024Mi",
    }
    assert normalize(with_container(depends_on=["b", "a"])) == normalize(
        with_container(depends_on=["a", "b"])
    )
    built = normalize(with_container(build_info={"source_location": "gs://x/1.tgz"}))
    assert "build_info" not in built["template"]["containers"]["app"]


def test_two_mounts_of_one_volume_are_two_mounts() -> None:
    raw = raw_service()
    raw["template"]["containers"][0]["volume_mounts"] = [
        {"name": "config", "mount_path": "/etc/a"},
        {"name": "config", "mount_path": "/etc/b"},
    ]
    mounts = normalize(raw)["template"]["containers"]["app"]["volume_mounts"]
    assert mounts == {"/etc/a": {"name": "config"}, "/etc/b": {"name": "config"}}


def test_a_conditional_grant_is_not_the_permanent_one() -> None:
    neutral = Neutralizer(project="acme-prod", region="us-central1")
    grant = {"role": "roles/run.invoker", "members": ["user:a@x.com"]}
    timed = {**grant, "condition": {"expression": "request.time < timestamp('2027-01-01')"}}
    permanent = normalize_service(raw_service(), {"bindings": [grant]}, neutral, FINGERPRINTS)
    boxed = normalize_service(raw_service(), {"bindings": [timed]}, neutral, FINGERPRINTS)
    assert permanent["iam"] == {"roles/run.invoker": ["user:a@x.com"]}
    assert boxed["iam"] == {
        "roles/run.invoker if request.time < timestamp('2027-01-01')": ["user:a@x.com"]
    }


def test_a_conditional_grant_gets_no_command_that_could_not_run() -> None:
    from driftcheck.model import FindingKind
    from driftcheck.remedies import Change, iam_bindings
    from driftcheck.severity import classify

    path = "iam.roles/run.invoker if request.time < timestamp('2027-01-01')"
    change = Change("service/us-central1/backend", path, FindingKind.ADDED, None, ["allUsers"])
    assert iam_bindings(change) == []
    plain = Change(
        "service/us-central1/backend",
        "iam.roles/run.invoker",
        FindingKind.ADDED,
        None,
        ["allUsers"],
    )
    assert iam_bindings(plain)  # the unconditional grant keeps its command
    severity, rule = classify(
        "service/us-central1/backend", path, FindingKind.ADDED, None, ["allUsers"]
    )
    assert (severity.value, rule) == ("critical", "public-invoker")
