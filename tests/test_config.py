"""driftcheck.yaml loading: valid files load, and every bad one gets one line naming the place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.config import load_config
from driftcheck.errors import ConfigError
from tests.conftest import CliResult
from tests.factories import write_config

GOOD = """\
version: 1
environments:
  production:
    project: acme-prod
    regions: [us-central1]
    secrets:
      - e2e-bypass-key
      - name: shared-key
        same_across_envs: true
rules:
  ignore:
    - {resource: "service/*", path: "template.scaling.*", reason: staging scales to zero}
  suppress:
    - {id: abc, accepted: 300, reason: accepted, owner: platform, expires: 2030-01-01}
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "driftcheck.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_loads_with_defaults_and_resolved_paths(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, GOOD))
    production = loaded.environment("production")
    assert production.project == "acme-prod"
    assert [s.name for s in production.secrets] == ["e2e-bypass-key", "shared-key"]
    assert production.secrets[1].same_across_envs is True
    assert loaded.baselines_dir == tmp_path / "baselines"
    assert loaded.baseline_path("production") == tmp_path / "baselines" / "production.yaml"
    assert loaded.model.rules.ignore[0].reason == "staging scales to zero"
    assert loaded.model.rules.suppress[0].accepted == 300
    assert production.region_map == {"us-central1": "us-central1"}
    assert len(loaded.sha256) == 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("    regions:", "    regoins:"),
            ":5: environments.production.regoins: unknown key 'regoins' (did you mean 'regions'?)",
        ),
        (GOOD.replace("version: 1", "version: 2"), ":1: version: Input should be 1"),
        (GOOD.replace("    project: acme-prod\n", ""), "environments.production.project: required"),
        (GOOD + "environments: {}\n", "duplicate key 'environments' (first defined on line 2)"),
        (
            "base: &b {project: x}\nversion: 1\nenvironments: {p: *b}\n",
            ":1: anchors are not allowed",
        ),
        (
            # regions may be a list or a map of aliases; the message names the key as written.
            GOOD.replace("regions: [us-central1]", "regions: us-central1"),
            ":5: environments.production.regions: Input should be 'all', a list or a mapping",
        ),
        (
            # A list was written: what is wrong inside it, not that it is not the word "all".
            GOOD.replace("regions: [us-central1]", "regions: [us-central1, ' europe-west1']"),
            ":5: environments.production.regions.1: String should match pattern",
        ),
        (GOOD.replace("reason: staging scales to zero", "reason: ''"), "rules.ignore.0.reason"),
        (GOOD.replace("expires: 2030-01-01", "expires: someday"), "rules.suppress.0.expires"),
        (
            GOOD.replace("accepted: 300, ", ""),
            ":14: rules.suppress.0.accepted: required key is missing",
        ),
        ("", "config file is empty"),
        ("- just\n- a list\n", "config must be a mapping"),
        ("version: [1\n", "invalid YAML"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_non_utf8_config_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"version: 1\nenvironments:\n  caf\xe9: {}\n")
    with pytest.raises(ConfigError, match=r":3: config file is not valid UTF-8"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_cli_misspelt_key_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    path = write(tmp_path, GOOD.replace("    regions:", "    regoins:"))
    result = run_cli("--config", str(path), "collect", "production")
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "regoins" in lines[0] and f"{path}:5" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_unknown_environment_exits_2(workdir: Path, run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("--config", str(workdir / "driftcheck.yaml"), "collect", "qa")
    assert result.code == 2
    assert "unknown environment 'qa' (known: production, staging)" in result.stderr


def test_config_from_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., CliResult]
) -> None:
    path = write_config(tmp_path, version=7)
    monkeypatch.setenv("DRIFTCHECK_CONFIG", str(path))
    result = run_cli("baseline", "production", "--check")
    assert result.code == 2
    assert str(path) in result.stderr and "version" in result.stderr
