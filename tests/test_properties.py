"""Properties of normalization and comparison, checked with hypothesis."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from driftcheck.compare import compare
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.service.normalize import normalize_service
from driftcheck.model import FindingKind, Snapshot
from driftcheck.normalize import canonical, prune

FINGERPRINTS = Fingerprinter(b"property-test-key-0123456789")
NEUTRAL = Neutralizer(project="acme-prod", region="us-central1", project_number="123")

names = st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True)
values = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["acme-prod", "projects/acme-prod/x", "us-central1", "10.0.0.1", "300s"]),
)
members = st.lists(
    st.sampled_from(["allUsers", "user:a@x.com", "serviceAccount:b@acme-prod.iam.x", "group:g"]),
    max_size=4,
    unique=True,
)


@st.composite
def services(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A raw service (``Service.to_dict`` shape) and its IAM policy."""
    env = [
        {"name": n, "value": draw(values)} for n in draw(st.lists(names, unique=True, max_size=6))
    ]
    containers = [
        {
            "name": name,
            "image": draw(st.sampled_from(["img:1", "img:2", "us-docker.pkg.dev/acme-prod/a:1"])),
            "env": env if i == 0 else [],
            "ports": [{"name": draw(st.sampled_from(["http1", "h2c"])), "container_port": 8080}],
            "args": draw(st.lists(st.sampled_from(["--a", "--b", "-v"]), max_size=3)),
        }
        for i, name in enumerate(
            draw(
                st.lists(
                    st.sampled_from(["app", "sidecar", "proxy"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
        )
    ]
    service = {
        "name": "projects/acme-prod/locations/us-central1/services/api",
        "uid": draw(st.uuids()).hex,
        "etag": draw(st.text(max_size=8)),
        "ingress": draw(st.sampled_from(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY"])),
        "labels": draw(
            st.dictionaries(st.sampled_from(["app", "team", "tier"]), values, max_size=3)
        ),
        "template": {
            "timeout": draw(st.sampled_from(["300s", "3600s", "60s"])),
            "session_affinity": draw(st.booleans()),
            "max_instance_request_concurrency": draw(st.integers(0, 1000)),
            "containers": containers,
        },
    }
    roles = draw(
        st.dictionaries(
            st.sampled_from(["roles/run.invoker", "roles/run.viewer"]), members, max_size=2
        )
    )
    policy = {"bindings": [{"role": role, "members": m} for role, m in roles.items()]}
    return service, policy


def normalize(pair: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    service, policy = pair
    return normalize_service(service, policy, NEUTRAL, FINGERPRINTS)


def snapshot(env: str, **resources: dict[str, Any]) -> Snapshot:
    """A snapshot read with NEUTRAL's identity; ``api=`` is keyed ``service/us-central1/api``."""
    return Snapshot(
        environment=env,
        project=NEUTRAL.project,
        project_number=NEUTRAL.project_number,
        regions={"us-central1": "us-central1"},
        collected_at="t",
        tool_version="x",
        resources={f"service/us-central1/{k}": v for k, v in resources.items()},
    )


def shuffled(
    pair: tuple[dict[str, Any], dict[str, Any]], seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same service as the API might list it in another order."""
    service, policy = copy.deepcopy(pair)
    rng = random.Random(seed)  # noqa: S311 - reordering, not security
    rng.shuffle(service["template"]["containers"])
    for container in service["template"]["containers"]:
        rng.shuffle(container["env"])
    rng.shuffle(policy["bindings"])
    for binding in policy["bindings"]:
        rng.shuffle(binding["members"])
    return service, policy


@settings(max_examples=60, deadline=None)
@given(services())
def test_normalizing_twice_equals_normalizing_once(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    once = normalize(pair)
    assert prune(canonical(once, NEUTRAL)) == once


@settings(max_examples=60, deadline=None)
@given(services())
def test_a_snapshot_compared_with_itself_has_no_findings(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    body = normalize(pair)
    result = compare(snapshot("a", api=body), snapshot("a", api=copy.deepcopy(body)))
    assert (result.findings, result.gaps) == ([], [])
    assert [(c.kind, c.matched) for c in result.coverage] == [("service", 1)]


@settings(max_examples=60, deadline=None)
@given(services(), services())
def test_comparison_mirrors(
    a: tuple[dict[str, Any], dict[str, Any]], b: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    first, second = normalize(a), normalize(b)
    forward = compare(snapshot("x", api=first), snapshot("x", api=second)).findings
    backward = compare(snapshot("x", api=second), snapshot("x", api=first)).findings
    swap = {
        FindingKind.ADDED: FindingKind.REMOVED,
        FindingKind.REMOVED: FindingKind.ADDED,
        FindingKind.CHANGED: FindingKind.CHANGED,
    }
    assert sorted(
        (f.path, swap[f.kind], repr(f.actual), repr(f.baseline)) for f in forward
    ) == sorted((f.path, f.kind, repr(f.baseline), repr(f.actual)) for f in backward)


@settings(max_examples=60, deadline=None)
@given(services(), services(), st.integers(0, 10_000))
def test_finding_ids_are_stable_under_reordering_of_api_lists(
    a: tuple[dict[str, Any], dict[str, Any]], b: tuple[dict[str, Any], dict[str, Any]], seed: int
) -> None:
    found = compare(snapshot("x", api=normalize(a)), snapshot("x", api=normalize(b))).findings
    ids = {f.id for f in found}
    reordered = compare(
        snapshot("x", api=normalize(shuffled(a, seed))),
        snapshot("x", api=normalize(shuffled(b, seed + 1))),
    ).findings
    assert {f.id for f in reordered} == ids
