"""The Cloud Run collector through the real google-cloud-run client against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.baseline import body_of
from driftcheck.config import load_config
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import Snapshot
from driftcheck.pipeline import collect_environment, collection_context
from tests.factories import PROD, invoker_policy, project, scenario, service, two_environments

Start = Callable[[Scenario], EmulatorServer]


def collect(workdir: Path, env: str = "production") -> Snapshot:
    config = load_config(workdir / "driftcheck.yaml")
    with collection_context(config) as context:
        return collect_environment(config, env, context)


def many_services(count: int) -> Scenario:
    services = [service(f"svc-{i:02d}") for i in range(count)]
    iam = {f"svc-{i:02d}": invoker_policy("user:a@example.com") for i in range(count)}
    return scenario(projects={PROD: project(services, iam=iam)}, max_page_size=3)


def test_pagination_is_followed_and_nothing_is_fetched_twice(
    emulator: Start, workdir: Path
) -> None:
    server = emulator(many_services(10))
    snapshot = collect(workdir)
    assert sorted(snapshot.resources) == [f"service/us-central1/svc-{i:02d}" for i in range(10)]
    assert snapshot.errors == []
    lists = [path for method, path in server.calls if path.endswith("/services")]
    iam = [path for method, path in server.calls if path.endswith(":getIamPolicy")]
    gets = [p for _m, p in server.calls if ":" not in p and p.rsplit("/", 2)[-2] == "services"]
    assert len(lists) == 4  # 10 services, pages of 3
    assert len(iam) == 10
    assert gets == []  # list_services returns whole services
    assert snapshot.resources["service/us-central1/svc-03"]["iam"] == {
        "roles/run.invoker": ["user:a@example.com"]
    }


def test_only_configured_services_are_kept(emulator: Start, tmp_path: Path) -> None:
    from tests.factories import write_config

    write_config(
        tmp_path,
        environments={
            "production": {
                "project": PROD,
                "regions": ["us-central1"],
                "services": ["svc-01", "svc-04"],
            }
        },
    )
    emulator(many_services(6))
    snapshot = collect(tmp_path)
    assert sorted(snapshot.resources) == [
        "service/us-central1/svc-01",
        "service/us-central1/svc-04",
    ]
    assert snapshot.errors == []  # every configured service was found


@pytest.mark.parametrize("status", [503, 429, 500])
def test_transient_errors_are_retried(emulator: Start, workdir: Path, status: int) -> None:
    faults = [
        FaultSpec(path="/services$", status=status, times=2),
        FaultSpec(path=":getIamPolicy$", status=status, times=1),
    ]
    server = emulator(two_environments(faults=faults))
    snapshot = collect(workdir)
    assert snapshot.errors == []
    assert "service/us-central1/backend" in snapshot.resources
    assert len([p for _m, p in server.calls if p.endswith("/services")]) == 3


def test_forbidden_iam_policy_is_a_recorded_error_naming_the_service(
    emulator: Start, workdir: Path
) -> None:
    faults = [FaultSpec(path="services/auth:getIamPolicy$", status=403)]
    emulator(
        scenario(
            projects={
                PROD: project(
                    [service("auth"), service("backend")],
                    iam={"backend": invoker_policy("user:a@example.com")},
                )
            },
            faults=faults,
        )
    )
    snapshot = collect(workdir)
    assert [(e.resource, e.source, e.path) for e in snapshot.errors] == [
        ("service/us-central1/auth", "run.googleapis.com", "iam")
    ]
    message = snapshot.errors[0].message
    assert "403" in message
    assert "PERMISSION_DENIED" in message
    assert "the principal lacks run.services.getIamPolicy (grant roles/run.viewer)" in message
    assert "iam" in snapshot.resources["service/us-central1/backend"]
    # Only the IAM policy is lost: the rest of the service is still collected.
    auth = snapshot.resources["service/us-central1/auth"]
    assert "iam" not in auth
    assert auth["ingress"] == "ingress_traffic_internal_only"
    assert auth["template"]["containers"]["app"]["image"].endswith("/apps/auth:1.0.0")


def test_forbidden_listing_marks_the_whole_region_unreadable(
    emulator: Start, workdir: Path
) -> None:
    emulator(two_environments(faults=[FaultSpec(path="/services$", status=403)]))
    snapshot = collect(workdir)
    assert snapshot.resources == {}
    assert [e.resource for e in snapshot.errors] == ["service/us-central1/*"]
    assert "the principal lacks run.services.list (grant roles/run.viewer)" in (
        snapshot.errors[0].message
    )


def test_unreachable_endpoint_gives_up_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    import socket

    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DRIFTCHECK_RUN_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("DRIFTCHECK_SECRETMANAGER_ENDPOINT", f"http://127.0.0.1:{port}")
    # retry_seconds is 3 in the test config: the retry policy gives up and records the failure
    # (a policy that retried forever would hang this test instead of returning).
    snapshot = collect(workdir)
    # Every Cloud Run kind is listed, and each listing is a failure of its own.
    assert sorted(e.resource for e in snapshot.errors) == [
        "job/us-central1/*",
        "service/us-central1/*",
        "worker-pool/us-central1/*",
    ]
    for error in snapshot.errors:
        assert "gave up after retrying" in error.message
        assert "cannot connect" in error.message


def test_collecting_twice_gives_an_identical_body(emulator: Start, workdir: Path) -> None:
    emulator(two_environments())
    first = collect(workdir)
    emulator(two_environments())  # a fresh boot: new uids, etags, times and uris
    second = collect(workdir)
    assert body_of(first) == body_of(second)


def test_multi_region_keys_carry_the_region(emulator: Start, tmp_path: Path) -> None:
    from tests.factories import write_config

    write_config(
        tmp_path,
        environments={"production": {"project": PROD, "regions": ["us-central1", "europe-west1"]}},
    )
    data = project([service("api")])
    data["services"]["europe-west1"] = [service("api")]
    emulator(scenario(projects={PROD: data}))
    assert sorted(collect(tmp_path).resources) == [
        "service/europe-west1/api",
        "service/us-central1/api",
    ]


def test_only_read_methods_reach_the_api(emulator: Start, workdir: Path) -> None:
    server = emulator(two_environments())
    collect(workdir)
    assert server.calls
    assert {method for method, _path in server.calls} == {"GET"}
