"""SARIF 2.1.0 for GitHub code scanning: valid against the schema, one rule per catalogue rule,
results located at the baseline's lines, fingerprints from finding ids."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from driftcheck.model import DriftReport
from driftcheck.render import sarif
from driftcheck.severity import catalogue, violations
from tests.conftest import CliResult
from tests.hostile import hostile_report
from tests.samples import sample_report

SCHEMA = json.loads(
    (Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


def validate(log: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(log)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DriftReport, dict[str, Any]]:
    """The sample report rendered from the repository root (where CI runs driftcheck)."""
    monkeypatch.chdir(tmp_path)
    report = sample_report(tmp_path)
    return report, json.loads(sarif.render(report))


def test_sarif_validates_against_the_2_1_0_schema(
    sample: tuple[DriftReport, dict[str, Any]],
) -> None:
    _report, log = sample
    validate(log)
    assert log["version"] == "2.1.0"
    validate(json.loads(sarif.render(hostile_report())))
    # The schema does bite: a run without a driver, a result without a message are refused.
    with pytest.raises(jsonschema.ValidationError):
        validate({"version": "2.1.0", "runs": [{"tool": {}}]})
    broken = copy.deepcopy(log)
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_one_rule_per_catalogue_rule_with_help_and_severity(
    sample: tuple[DriftReport, dict[str, Any]],
) -> None:
    _report, log = sample
    (run,) = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    names = {rule.name for rule in catalogue()} | {entry.name for entry in violations()}
    assert names <= set(rules)
    affinity = rules["session-affinity"]
    assert "WebSocket reconnects" in affinity["help"]["text"]
    assert "--session-affinity" in affinity["help"]["text"]
    assert affinity["defaultConfiguration"]["level"] == "error"
    assert affinity["properties"]["security-severity"] == "8.0"
    assert "security" in affinity["properties"]["tags"]
    # Ingress is high by default and critical when it widens: the variant carries that.
    assert rules["ingress"]["properties"]["security-severity"] == "8.0"
    assert rules["ingress/critical"]["properties"]["security-severity"] == "9.5"


def test_results_point_at_the_baseline_line_of_their_resource_and_path(
    sample: tuple[DriftReport, dict[str, Any]], tmp_path: Path
) -> None:
    report, log = sample
    (run,) = log["runs"]
    lines = (tmp_path / "baselines" / "production.yaml").read_text().splitlines()
    results = {r["properties"]["id"]: r for r in run["results"]}
    assert len(results) == len(report.findings)
    rules = run["tool"]["driver"]["rules"]
    for finding in report.findings:
        result = results[finding.id]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"] == {"driftcheckFindingId/v1": finding.id}
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "baselines/production.yaml"
        assert physical["region"]["startLine"] >= 1
    line = lambda finding_id: lines[  # noqa: E731
        results[finding_id]["locations"][0]["physicalLocation"]["region"]["startLine"] - 1
    ]
    timeout = next(f for f in report.findings if f.path == "template.timeout")
    assert line(timeout.id).strip() == "timeout: 3600"
    invoker = next(f for f in report.findings if f.path == "iam.roles/run.invoker")
    assert line(invoker.id).strip() == "roles/run.invoker:"
    connector = next(f for f in report.findings if f.path == "template.vpc_access.connector")
    assert line(connector.id).strip().startswith("connector: projects/${project}/")
    # The one about staging's secret reference: the reference's key, dots and all.
    unusable = next(f for f in report.findings if f.rule == "secret-version-unusable")
    assert line(unusable.id).strip() == (
        "service/us-central1/auth:containers.app.env.E2E_BYPASS_KEY:"
    )
    assert results[timeout.id]["level"] == "error"
    assert results[timeout.id]["ruleId"] == "request-timeout"
    assert results[invoker.id]["ruleId"] == "public-invoker/critical"
    assert "--timeout=3600" in results[timeout.id]["message"]["text"]


def test_suppressed_and_ignored_findings_carry_their_reason(
    sample: tuple[DriftReport, dict[str, Any]],
) -> None:
    report, log = sample
    (run,) = log["runs"]
    results = {r["properties"]["id"]: r for r in run["results"]}
    for finding in report.findings:
        suppressions = results[finding.id].get("suppressions", [])
        if finding.active:
            assert suppressions == []
        else:
            (suppression,) = suppressions
            assert suppression["kind"] == "external"
            assert (finding.reason or "") in suppression["justification"]
    assert run["automationDetails"]["id"] == "driftcheck/staging-vs-production/"


def test_check_writes_sarif_on_request(
    run_cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline: diff of the sample's two snapshots, from the folder that holds the baseline.
    from driftcheck.baseline import snapshot_text
    from tests.samples import checked_snapshot

    monkeypatch.chdir(tmp_path)
    sample_report(tmp_path)
    (tmp_path / "staging.yaml").write_text(snapshot_text(checked_snapshot()), encoding="utf-8")
    result = run_cli(
        "diff", "baselines/production.yaml", "staging.yaml", "--format", "sarif", "--out-dir", "out"
    )
    assert result.code == 1, result.stderr
    log = json.loads((tmp_path / "out" / "staging-vs-production.sarif").read_text())
    validate(log)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"baselines/production.yaml"}


def test_the_fast_key_index_agrees_with_the_strict_parser(tmp_path: Path) -> None:
    """SARIF finds lines with a one-pass index (a 50,000-service baseline would take minutes to
    parse strictly); on what driftcheck writes it must agree with the strict parser."""
    from driftcheck.baseline import snapshot_text
    from driftcheck.render.sarif import index_keys
    from driftcheck.yamlio import dump_yaml, parse_yaml
    from tests.samples import baseline_snapshot, checked_snapshot

    tricky = {
        "resources": {
            "a: b": {
                "'q'": 1,
                'x"y\\z': {"-dash": 2, "k": [{"in": 1}, "s"], "#h": 3, "": 5, "true": 6},
                "a:b": {"c": 8},
                "ué": {"é": 9},
            }
        }
    }
    for text in (
        snapshot_text(baseline_snapshot()),
        snapshot_text(checked_snapshot()),
        dump_yaml(tricky),
    ):
        strict = parse_yaml(text, tmp_path / "x.yaml").lines
        mapping_keys = {k: v for k, v in strict.items() if not any(isinstance(p, int) for p in k)}
        assert index_keys(text) == mapping_keys
