"""Properties of identity across environments, checked with hypothesis.

Whatever two environments call their things, the set of findings depends only on what differs:
renaming every resource with a ``name_map``-covered token, reordering the API's lists, adding a
region to one side, or spelling a reference into another project literally, changes nothing.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from driftcheck.compare import CompareOptions, compare
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.service.normalize import normalize_service
from driftcheck.model import Snapshot

FINGERPRINTS = Fingerprinter(b"identity-property-key-0123456789")
PROD, STAGING = "acme-prod", "acme-staging"
REGION, OTHER_REGION = "us-central1", "europe-west1"

timeouts = st.sampled_from(["60s", "300s", "3600s"])
levels = st.sampled_from(["info", "debug", "warn"])
members = st.lists(
    st.sampled_from(["user:a@x.com", "group:ops@x.com", "allUsers", "domain:x.com"]),
    max_size=3,
    unique=True,
)


@st.composite
def estates(draw: st.DrawFn) -> dict[str, Any]:
    """Per service: the settings of each environment, drawn independently (so some differ)."""
    names = draw(st.lists(st.sampled_from(["api", "ws", "auth", "jobs"]), min_size=1, unique=True))
    return {
        name: {
            side: {
                "timeout": draw(timeouts),
                "level": draw(levels),
                "affinity": draw(st.booleans()),
                "invokers": draw(members),
            }
            for side in ("prod", "stg")
        }
        for name in names
    }


def raw_service(
    name: str, project: str, region: str, settings_: dict[str, Any], image_project: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A service in ``Service.to_dict`` shape, and its IAM policy."""
    service = {
        "name": f"projects/{project}/locations/{region}/services/{name}",
        "template": {
            "timeout": settings_["timeout"],
            "session_affinity": settings_["affinity"],
            "service_account": f"{name}@{project}.iam.gserviceaccount.com",
            "containers": [
                {
                    "name": "app",
                    "image": f"europe-docker.pkg.dev/{image_project}/apps/{name}:1",
                    "env": [
                        {"name": "LOG_LEVEL", "value": settings_["level"]},
                        {"name": "BUCKET", "value": f"run-sources-{project}-{region}"},
                        {"name": "DB", "value": "my-product-db"},
                    ],
                },
                {"name": "sidecar", "image": "proxy:1", "env": [{"name": "A", "value": "1"}]},
            ],
        },
    }
    policy = {
        "bindings": [
            {"role": "roles/run.invoker", "members": list(settings_["invokers"])},
            {"role": f"projects/{project}/roles/deployer", "members": ["group:ops@x.com"]},
        ]
    }
    return service, policy


def snapshot(
    estate: dict[str, Any],
    side: str,
    *,
    suffix: str | None,
    regions: tuple[str, ...] = (REGION,),
    image_project: str | None = None,
    shuffle: random.Random | None = None,
) -> Snapshot:
    """Normalize one environment of ``estate``: names carry ``-<suffix>`` when one is given."""
    project = PROD if side == "prod" else STAGING
    name_map = {suffix: "${env}"} if suffix else {}
    resources: dict[str, dict[str, Any]] = {}
    for region in regions:
        neutral = Neutralizer(project=project, region=region, name_map=name_map)
        for name, sides in estate.items():
            real_name = f"{name}-{suffix}" if suffix else name
            service, policy = raw_service(
                real_name, project, region, sides[side], image_project or project
            )
            if shuffle is not None:
                _shuffle(service, policy, shuffle)
            key = f"service/{region}/{neutral(real_name)}"
            resources[key] = normalize_service(service, policy, neutral, FINGERPRINTS)
    return Snapshot(
        environment="production" if side == "prod" else "staging",
        project=project,
        regions={region: region for region in regions},
        name_map=name_map,
        collected_at="2026-01-01T00:00:00Z",
        tool_version="t",
        resources=resources,
    )


def _shuffle(service: dict[str, Any], policy: dict[str, Any], rng: random.Random) -> None:
    containers = service["template"]["containers"]
    rng.shuffle(containers)
    for container in containers:
        rng.shuffle(container["env"])
    rng.shuffle(policy["bindings"])
    for binding in policy["bindings"]:
        rng.shuffle(binding["members"])


def findings(baseline: Snapshot, actual: Snapshot) -> set[tuple[str, str, str]]:
    """Findings as (resource with env-specific spellings undone, path, kind)."""
    result = compare(baseline, actual, CompareOptions(cross_environment=True))
    return {
        (f.resource.replace("-${env}", ""), f.path, f.kind.value)
        for f in result.findings
        if not f.resource.startswith("region/")
    }


@settings(max_examples=60, deadline=None)
@given(estates())
def test_env_suffixed_names_with_a_name_map_change_nothing(estate: dict[str, Any]) -> None:
    plain = findings(snapshot(estate, "prod", suffix=None), snapshot(estate, "stg", suffix=None))
    suffixed = findings(
        snapshot(estate, "prod", suffix="prod"), snapshot(estate, "stg", suffix="stg")
    )
    assert suffixed == plain


@settings(max_examples=60, deadline=None)
@given(estates(), st.randoms(use_true_random=False))
def test_reordering_the_api_lists_changes_nothing(
    estate: dict[str, Any], rng: random.Random
) -> None:
    ordered = findings(
        snapshot(estate, "prod", suffix="prod"), snapshot(estate, "stg", suffix="stg")
    )
    shuffled = findings(
        snapshot(estate, "prod", suffix="prod", shuffle=rng),
        snapshot(estate, "stg", suffix="stg", shuffle=rng),
    )
    assert shuffled == ordered


@settings(max_examples=60, deadline=None)
@given(estates())
def test_adding_a_region_to_one_side_changes_only_that_region(estate: dict[str, Any]) -> None:
    staging = snapshot(estate, "stg", suffix="stg")
    one_region = snapshot(estate, "prod", suffix="prod")
    two_regions = snapshot(estate, "prod", suffix="prod", regions=(REGION, OTHER_REGION))
    assert findings(two_regions, staging) == findings(one_region, staging)
    regional = compare(two_regions, staging, CompareOptions(cross_environment=True)).findings
    assert [f.resource for f in regional if f.resource.startswith("region/")] == [
        f"region/{OTHER_REGION}"
    ]


@settings(max_examples=60, deadline=None)
@given(estates())
def test_a_literal_reference_into_the_other_project_is_equal(estate: dict[str, Any]) -> None:
    """Staging deploying production's image from production's registry is no image change."""
    own = findings(snapshot(estate, "prod", suffix="prod"), snapshot(estate, "stg", suffix="stg"))
    shared = findings(
        snapshot(estate, "prod", suffix="prod"),
        snapshot(estate, "stg", suffix="stg", image_project=PROD),
    )
    assert shared == own
    assert not any(path.endswith(".image") for _resource, path, _kind in shared)


def test_the_properties_see_real_differences() -> None:
    """The estates above do produce findings when settings differ (the properties are not
    vacuous)."""
    estate = {
        "api": {
            "prod": {"timeout": "60s", "level": "info", "affinity": True, "invokers": []},
            "stg": {"timeout": "300s", "level": "info", "affinity": True, "invokers": ["allUsers"]},
        }
    }
    found = findings(
        snapshot(copy.deepcopy(estate), "prod", suffix="prod"),
        snapshot(copy.deepcopy(estate), "stg", suffix="stg"),
    )
    assert found == {
        ("service/us-central1/api", "template.timeout", "changed"),
        ("service/us-central1/api", "iam.roles/run.invoker", "added"),
    }
