"""The whole Cloud Run API, faithfully: an estate with every v2 field populated (as Google's
discovery document describes it, including fields the installed client does not know) checks
clean across environments; one meaningful change is exactly one finding with its severity; the
same thing spelt twice is no finding. Through the real CLI and clients against the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import FaultSpec, Scenario
from driftcheck.model import DriftReport, Status
from driftcheck.yamlio import dump_yaml
from tests import whole_api
from tests.conftest import CliResult
from tests.whole_api import REGION, Change, estate

Start = Callable[[Scenario], EmulatorServer]
Run = Callable[..., CliResult]
SERVICE = "service/us-central1/api-${env}"
JOB = "job/us-central1/migrate-${env}"
POOL = "worker-pool/us-central1/consumer-${env}"


@pytest.fixture
def cli(run_cli: Run, tmp_path: Path) -> Run:
    (tmp_path / "driftcheck.yaml").write_text(dump_yaml(whole_api.config(tmp_path)))
    return lambda *args: run_cli("--config", str(tmp_path / "driftcheck.yaml"), *args)


def check(emulator: Start, cli: Run, directory: Path, scenario: Scenario) -> DriftReport:
    emulator(scenario)
    baseline = cli("baseline", "production")
    assert baseline.code == 0, baseline.stderr
    result = cli("check", "staging", "--against", "production", "--fail-on", "info")
    assert result.code in (0, 1), result.stderr
    return DriftReport.model_validate_json(
        (directory / "reports" / "staging-vs-production.json").read_text()
    )


def svc(project: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = project["services"][REGION][0]
    return found


def job(project: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = project["jobs"][REGION][0]
    return found


def pool(project: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = project["worker_pools"][REGION][0]
    return found


def main_container(resource: dict[str, Any]) -> dict[str, Any]:
    template = resource["template"]
    template = template.get("template", template)  # a job's task template
    found: dict[str, Any] = template["containers"][0]
    return found


def test_every_field_populated_checks_clean_and_keeps_what_the_client_does_not_know(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    report = check(emulator, cli, tmp_path, estate())
    assert report.status is Status.CLEAN, [(f.resource, f.path) for f in report.findings]
    assert report.findings == []
    assert report.errors == []
    assert {c.kind for c in report.coverage} == {"service", "job", "worker-pool", "secret"}
    assert all(c.matched == 1 for c in report.coverage)
    baseline = (tmp_path / "baselines" / "production.yaml").read_text()
    # Fields google-cloud-run 0.16 drops are kept from the JSON the API sent.
    for field in ("workload_identity_config", "filestore", "ambient_networking", "sandbox"):
        assert field in baseline, field
    assert "concurrency_utilization: 0.8" in baseline
    # Per build, per deploy, per rotation: never in a baseline.
    for volatile in ("a1b2c3", "00042", "expire_time", "threat_detection_enabled", "op-"):
        assert volatile not in baseline, volatile
    # Two mounts of one volume stay two mounts.
    assert "/etc/app:" in baseline and "/etc/extra:" in baseline


def _set(path: str, value: Any, pick: Callable[[dict[str, Any]], dict[str, Any]]) -> Change:
    def change(project: dict[str, Any]) -> None:
        node: Any = pick(project)
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()


def _on_revisions(fields: dict[str, Any]) -> Change:
    def change(project: dict[str, Any]) -> None:
        for revision in project["revisions"][REGION]:
            revision.update(fields)

    return change


Case = tuple[str, Change, str, str, str]

MEANINGFUL: list[Case] = [
    (
        "ingress widened",
        _set("ingress", "INGRESS_TRAFFIC_ALL", svc),
        SERVICE,
        "ingress",
        "critical",
    ),
    ("ingress narrowed", _set("ingress", "INGRESS_TRAFFIC_NONE", svc), SERVICE, "ingress", "high"),
    ("ssh turned on", _set("sshEnabled", True, svc), SERVICE, "ssh_enabled", "critical"),
    ("iap turned off", _set("iapEnabled", False, svc), SERVICE, "iap_enabled", "critical"),
    (
        "default URL turned on",
        _set("defaultUriDisabled", False, svc),
        SERVICE,
        "default_uri_disabled",
        "critical",
    ),
    (
        "custom audience lost",
        _set("customAudiences", ["api-clients"], svc),
        SERVICE,
        "custom_audiences",
        "high",
    ),
    (
        "max instances lowered",
        _set("template.scaling.maxInstanceCount", 10, svc),
        SERVICE,
        "template.scaling.max_instance_count",
        "medium",
    ),
    ("request timeout", _set("template.timeout", "60s", svc), SERVICE, "template.timeout", "high"),
    (
        "second mount of a volume removed",
        _set("template.containers.0.volumeMounts.1", _DELETE, svc),
        SERVICE,
        "template.containers.app.volume_mounts./etc/extra",
        "medium",
    ),
    (
        "workload identity certificate off",
        _set("template.workloadIdentityConfig.identityCertificateEnabled", False, svc),
        SERVICE,
        "template.workload_identity_config.identityCertificateEnabled",
        "high",
    ),
    (
        "filestore volume elsewhere",
        _set("template.volumes.5.filestore.volume", "projects/acme-staging/filestore/x", svc),
        SERVICE,
        "template.volumes.files.filestore.volume",
        "medium",
    ),
    (
        "binary authorization removed",
        _set("binaryAuthorization", _DELETE, pool),
        POOL,
        "binary_authorization",
        "high",
    ),
    ("job task count", _set("template.taskCount", 8, job), JOB, "template.task_count", "medium"),
    (
        "job timeout",
        _set("template.template.timeout", "600s", job),
        JOB,
        "template.timeout",
        "high",
    ),
    (
        "job retries back to the default",
        _set("template.template.maxRetries", _DELETE, job),
        JOB,
        "template.max_retries",
        "medium",
    ),
    (
        "job env var",
        lambda p: main_container(job(p))["env"][0].update(value="debug"),
        JOB,
        "template.containers.app.env.LOG_LEVEL.value",
        "medium",
    ),
    (
        "worker pool instances",
        _set("scaling.manualInstanceCount", 1, pool),
        POOL,
        "scaling.manual_instance_count",
        "medium",
    ),
    (
        "worker pool split to a pinned revision",
        _set(
            "instanceSplits",
            [
                {"type": "INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST", "percent": 50},
                {
                    "type": "INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION",
                    "revision": "consumer-stg-00001",
                    "percent": 50,
                },
            ],
            pool,
        ),
        POOL,
        "instance_splits.latest.percent",
        "medium",
    ),
    (
        "an ingress value the client does not know",
        _set("ingress", "INGRESS_TRAFFIC_SOMETHING_NEW", svc),
        SERVICE,
        "ingress",
        "critical",
    ),
    (
        "an execution environment the client does not know",
        _set("template.executionEnvironment", "EXECUTION_ENVIRONMENT_GEN3", svc),
        SERVICE,
        "template.execution_environment",
        "low",
    ),
    (
        "an env value that looks like an unset enum",
        lambda p: main_container(svc(p))["env"].append({"name": "MODE", "value": "X_UNSPECIFIED"}),
        SERVICE,
        "template.containers.app.env.MODE",
        "medium",
    ),
    (
        "a pinned revision's field the client does not know",
        _on_revisions({"workloadIdentityConfig": {"identityCertificateEnabled": False}}),
        SERVICE,
        "serving.pinned.runs.workload_identity_config",
        "high",
    ),
    (
        "worker pool image",
        lambda p: main_container(pool(p)).update(image=whole_api.IMAGE.replace("cd", "ef")),
        POOL,
        "template.containers.app.image",
        "low",
    ),
]


@pytest.mark.parametrize(
    ("change", "resource", "path", "severity"),
    [case[1:] for case in MEANINGFUL],
    ids=[case[0] for case in MEANINGFUL],
)
def test_one_meaningful_change_is_one_finding(
    emulator: Start,
    cli: Run,
    tmp_path: Path,
    change: Change,
    resource: str,
    path: str,
    severity: str,
) -> None:
    report = check(emulator, cli, tmp_path, estate(change))
    found = [(f.resource, f.path, f.severity.value) for f in report.findings if f.active]
    assert found == [(resource, path, severity)]


def _reverse(path: str, pick: Callable[[dict[str, Any]], dict[str, Any]]) -> Change:
    def change(project: dict[str, Any]) -> None:
        node: Any = pick(project)
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        node.reverse()

    return change


def _spelt(path: str, production: Any, staging: Any) -> tuple[Change, Change]:
    """Staging's service spells ``path`` one way, production's the other."""
    return _set(path, staging, svc), _set(path, production, svc)


SAME_THING: list[tuple[str, Change, Change | None]] = [
    (
        "quantities",
        lambda p: main_container(svc(p))["resources"]["limits"].update(
            cpu="2000m", memory="1024Mi"
        ),
        None,
    ),
    ("order of sidecars", _reverse("template.containers.0.dependsOn", svc), None),
    ("order of containers", _reverse("template.containers", svc), None),
    ("order of volumes", _reverse("template.volumes", svc), None),
    ("order of mounts", _reverse("template.containers.0.volumeMounts", svc), None),
    ("order of env", _reverse("template.containers.0.env", svc), None),
    ("order of gcs options", _reverse("template.volumes.4.gcs.mountOptions", svc), None),
    (
        "order of sql instances",
        _reverse("template.volumes.2.cloudSqlInstance.instances", svc),
        None,
    ),
    (
        "order of probe headers",
        _reverse("template.containers.0.livenessProbe.httpGet.httpHeaders", svc),
        None,
    ),
    ("order of regions", _reverse("multiRegionSettings.regions", svc), None),
    ("order of audiences", _reverse("customAudiences", svc), None),
    ("order of job volumes", _reverse("template.template.volumes", job), None),
    (
        "unset ingress is all",
        *_spelt("ingress", "INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_UNSPECIFIED"),
    ),
    ("unset launch stage is GA", *_spelt("launchStage", "GA", "LAUNCH_STAGE_UNSPECIFIED")),
    ("unset scaling mode is automatic", *_spelt("scaling.scalingMode", "AUTOMATIC", _DELETE)),
    (
        "unset cpu is 1",
        lambda p: main_container(svc(p))["resources"]["limits"].update(cpu="1000m"),
        lambda p: main_container(svc(p))["resources"]["limits"].pop("cpu"),
    ),
    ("an unknown enum left unspecified", _set("functionalType", _DELETE, svc), None),
    (
        "unset egress is private ranges",
        *_spelt("template.vpcAccess.egress", "PRIVATE_RANGES_ONLY", _DELETE),
    ),
    (
        "unset empty-dir medium is memory",
        *_spelt("template.volumes.1.emptyDir", {"medium": "MEMORY"}, {}),
    ),
]


@pytest.mark.parametrize(
    ("staging", "production"),
    [case[1:] for case in SAME_THING],
    ids=[case[0] for case in SAME_THING],
)
def test_the_same_thing_spelt_twice_is_no_finding(
    emulator: Start, cli: Run, tmp_path: Path, staging: Change, production: Change | None
) -> None:
    report = check(emulator, cli, tmp_path, estate(staging, production=production))
    assert [(f.resource, f.path) for f in report.findings] == []
    assert report.status is Status.CLEAN


def test_a_tag_moved_from_a_fixed_revision_to_latest_is_found(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def moved(project: dict[str, Any]) -> None:
        traffic = svc(project)["traffic"]
        traffic[1] = {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "tag": "stable"}
        traffic[0]["percent"] = 100

    report = check(emulator, cli, tmp_path, estate(moved))
    # One decision, one finding: the tag's new target, and the percentages it moved.
    [finding] = report.findings
    assert (finding.resource, finding.severity.value) == (SERVICE, "medium")
    assert {e.path for e in finding.evidence} == {
        "traffic.latest.percent",
        "traffic.pinned",
        "traffic.tag:stable.percent",
        "traffic.tag:stable.target",
    }


def test_a_time_boxed_grant_made_permanent_is_found(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def permanent(project: dict[str, Any]) -> None:
        binding = project["iam"]["api-stg"]["bindings"][1]
        del binding["condition"]

    report = check(emulator, cli, tmp_path, estate(permanent))
    [finding] = report.findings
    assert (finding.resource, finding.severity.value) == (SERVICE, "high")
    assert {e.path for e in finding.evidence} == {
        "iam.roles/run.developer",
        'iam.roles/run.developer if request.time < timestamp("2027-01-01T00:00:00Z")',
    }


# What serves -------------------------------------------------------------------------------------
def _serving_only_latest(project: dict[str, Any]) -> None:
    service = svc(project)
    service["traffic"] = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
    service["trafficStatuses"] = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]


def test_no_revision_is_read_when_the_template_serves_everything(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    server = emulator(estate(_serving_only_latest, production=_serving_only_latest))
    assert cli("baseline", "production").code == 0
    assert not [path for _method, path in server.calls if "/revisions/" in path]
    # With a revision pinned (the full estate), exactly that one is read, once per run.
    server = emulator(estate())
    assert cli("baseline", "production").code == 0
    reads = [path for _method, path in server.calls if "/revisions/" in path]
    assert reads == [
        f"/v2/projects/{whole_api.PROD}/locations/{REGION}/services/api-prod"
        "/revisions/api-prod-00041-a1b"
    ]


def test_a_failed_deploy_is_a_violation_naming_what_still_serves(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def failed(project: dict[str, Any]) -> None:
        service = svc(project)
        base = f"projects/{whole_api.STAGING}/locations/{REGION}/services/api-stg/revisions"
        service["latestCreatedRevision"] = f"{base}/api-stg-00043-9f8"  # never became ready
        service["latestReadyRevision"] = f"{base}/api-stg-00042-9f8"

    report = check(emulator, cli, tmp_path, estate(failed))
    [finding] = report.findings
    assert (finding.resource, finding.severity.value) == (SERVICE, "high")
    kinds = {(e.path, e.kind.value) for e in finding.evidence}
    assert ("deploy", "violation") in kinds
    assert "api-${env}-00043-9f8 is not ready: traffic still goes to api-${env}-00042-9f8" in (
        " ".join([finding.message, *(e.message for e in finding.evidence)])
    )
    # What serves (the older revision's image) is compared with what production serves.
    assert any(e.path.startswith("serving.latest") for e in finding.evidence)
    # Revision names are never approved: a baseline taken now does not keep them.
    assert cli("baseline", "staging").code == 0
    approved = (tmp_path / "baselines" / "staging.yaml").read_text()
    assert "00043" not in approved and "deploy:" not in approved


def test_a_traffic_split_to_another_revision_is_one_finding(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def split(project: dict[str, Any]) -> None:
        service = svc(project)
        service["trafficStatuses"][0]["percent"] = 50
        service["trafficStatuses"][1]["percent"] = 50
        service["traffic"][0]["percent"] = 50
        service["traffic"][1]["percent"] = 50

    report = check(emulator, cli, tmp_path, estate(split))
    [finding] = report.findings
    assert (finding.resource, finding.severity.value) == (SERVICE, "high")
    paths = {e.path for e in finding.evidence} | {finding.path}
    assert {"traffic.latest.percent", "serving.pinned.percent"} <= paths


def test_a_serving_revision_that_cannot_be_read_makes_the_run_incomplete(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    emulator(estate())
    assert cli("baseline", "production").code == 0
    emulator(estate(lambda project: project["revisions"][REGION].clear()))
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "staging-vs-production.json").read_text()
    )
    [error] = report.errors
    assert (error.resource, error.path) == (SERVICE, "serving.api-stg-00041-9f8")


def test_a_field_the_client_does_not_know_is_redacted_by_its_name(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    # Kept from the JSON as the API sent it, and judged like a known field would be: a name
    # that says it holds a secret, with a value that is plainly none, or one that is.
    def with_unknown(project: dict[str, Any]) -> None:
        svc(project)["sshPassword"] = "hunter2-plain"
        main_container(svc(project))["debugAuth"] = {"bearerToken": "opensesame42", "on": "true"}
        for revision in project["revisions"][REGION]:  # a pinned revision serves too
            revision["containers"][0]["sshPassword"] = "hunter3-plain"

    emulator(estate(with_unknown, production=with_unknown))
    assert cli("baseline", "production").code == 0
    baseline = (tmp_path / "baselines" / "production.yaml").read_text()
    assert "hunter2-plain" not in baseline and "opensesame42" not in baseline
    assert "hunter3-plain" not in baseline
    assert "ssh_password:" in baseline and "bearerToken:" in baseline  # kept, redacted
    # The same secret in both environments: the fingerprints match, no drift.
    result = cli("check", "staging", "--against", "production", "--fail-on", "info")
    assert result.code == 0, result.stderr


def test_an_empty_dir_volume_is_a_volume(emulator: Start, cli: Run, tmp_path: Path) -> None:
    """``emptyDir: {}`` is a volume with every default, not an empty map pruning drops."""

    def bare(project: dict[str, Any]) -> None:
        svc(project)["template"]["volumes"][1] = {"name": "cache", "emptyDir": {}}

    def without(project: dict[str, Any]) -> None:
        del svc(project)["template"]["volumes"][1]

    report = check(emulator, cli, tmp_path, estate(bare, production=without))
    assert [(f.resource, f.path) for f in report.findings] == [(SERVICE, "template.volumes.cache")]


def test_a_deploy_still_rolling_out_is_no_failed_deploy(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def rolling(project: dict[str, Any]) -> None:
        service = svc(project)
        base = f"projects/{whole_api.STAGING}/locations/{REGION}/services/api-stg/revisions"
        service["latestCreatedRevision"] = f"{base}/api-stg-00043-9f8"
        service["reconciling"] = True

    report = check(emulator, cli, tmp_path, estate(rolling))
    # What serves meanwhile (the previous revision) is still compared; no violation is raised.
    paths = {f.path for f in report.findings} | {
        e.path for f in report.findings for e in f.evidence
    }
    assert "deploy" not in paths
    assert paths and all(path.startswith("serving") for path in paths)


def _tag_only(project: dict[str, Any]) -> None:
    """All traffic to the latest revision; revision 00041 reachable only at its tag's URL."""
    service = svc(project)
    service["trafficStatuses"] = [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100},
        {
            "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
            "revision": service["trafficStatuses"][1]["revision"],
            "tag": "stable",
        },
    ]


def test_a_revision_reached_only_through_its_tag_is_compared(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    def other_image(project: dict[str, Any]) -> None:
        _tag_only(project)
        for revision in project["revisions"][REGION]:
            revision["containers"][0]["image"] = whole_api.IMAGE.replace("cd", "ee")

    report = check(emulator, cli, tmp_path, estate(other_image, production=_tag_only))
    assert [(f.resource, f.path) for f in report.findings] == [
        (SERVICE, "serving.tag:stable.runs.containers.app.image")
    ]


@pytest.mark.parametrize(
    ("collection", "body", "kind"),
    [("jobs", "json", "job"), ("workerPools", "malformed", "worker-pool")],
)
def test_a_kind_that_cannot_be_listed_is_never_clean(
    emulator: Start, cli: Run, tmp_path: Path, collection: str, body: str, kind: str
) -> None:
    """Jobs and worker pools are read whether or not the config names them: a listing that
    fails leaves the run incomplete, though everything else compares clean."""
    emulator(estate())
    assert cli("baseline", "production").code == 0
    path = f"/projects/{whole_api.STAGING}/locations/{REGION}/{collection}$"
    fault = FaultSpec(path=path, status=403, body=body)
    emulator(estate(faults=[fault]))
    result = cli("check", "staging", "--against", "production")
    assert result.code == 3, result.stderr
    report = DriftReport.model_validate_json(
        (tmp_path / "reports" / "staging-vs-production.json").read_text()
    )
    assert report.status is Status.INCOMPLETE
    assert report.findings == []
    assert [e.resource for e in report.errors] == [f"{kind}/{REGION}/*"]


def test_of_several_checks_one_reported_while_the_other_is_read_both_stay_clean(
    emulator: Start, cli: Run, tmp_path: Path
) -> None:
    # Two checks in one run (each judged and written as soon as its environment is read):
    # staging, alike but for project ids, numbers, volatile fields and name_map tokens, is
    # clean against production's baseline, as production is against its own.
    emulator(estate())
    assert cli("baseline", "production").code == 0
    result = cli("check", "production", "staging", "--against", "production", "--fail-on", "info")
    assert result.code == 0, result.stderr
    for stem in ("production-vs-production", "staging-vs-production"):
        text = (tmp_path / "reports" / f"{stem}.json").read_text()
        report = DriftReport.model_validate_json(text)
        assert report.status is Status.CLEAN, [(f.resource, f.path) for f in report.findings]
        assert report.findings == [] and report.errors == []
        assert all(c.matched == 1 for c in report.coverage)
