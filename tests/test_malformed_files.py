"""Malformed config, baseline and snapshot files: exit 2, one line naming file and place,
nothing written. Each runs as a real process with a hang guard."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.baseline import write_snapshot
from driftcheck.model import Snapshot
from tests.conftest import TEST_KEY

GOOD_CONFIG = (
    "version: 1\nenvironments:\n  production:\n    project: acme-prod\n    regions: [us-central1]\n"
)


def alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines.extend(
        f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 9) + "]"
        for i in range(1, 9)
    )
    return "\n".join(lines) + "\n"


def huge() -> bytes:
    return b"version: 1\n" + b"# " + b"x" * (50 * 1024 * 1024) + b"\n"


BAD_TEXTS: dict[str, tuple[Callable[[], str | bytes], str]] = {
    "alias bomb": (alias_bomb, "anchors are not allowed"),
    "duplicate keys": (lambda: GOOD_CONFIG + "version: 1\n", "duplicate key 'version'"),
    "deep nesting": (lambda: "version: " + "[" * 5000 + "]" * 5000 + "\n", "nesting"),
    "50 MB file": (huge, "larger than"),
    "non-UTF-8 bytes": (lambda: GOOD_CONFIG.encode() + b"x: \xff\xfe\n", "not valid UTF-8"),
    "empty file": (lambda: "", "empty"),
    "only a comment": (lambda: "# nothing\n", "empty"),
}
CONFIG_ONLY: dict[str, tuple[str, str]] = {
    "wrong type": (GOOD_CONFIG.replace("[us-central1]", "7"), "regions"),
    "unknown key": (GOOD_CONFIG + "baselines_dri: x\n", "unknown key 'baselines_dri'"),
    "missing required key": (GOOD_CONFIG.replace("    project: acme-prod\n", ""), "project"),
    "not a mapping": ("[1, 2]\n", "must be a mapping"),
}


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DRIFTCHECK_FINGERPRINT_KEY": TEST_KEY,
        "DRIFTCHECK_RUN_ENDPOINT": "http://127.0.0.1:9",
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [sys.executable, "-m", "driftcheck", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def assert_rejected(
    done: subprocess.CompletedProcess[str], path: Path | str, expected: str
) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", sorted(BAD_TEXTS) + sorted(CONFIG_ONLY))
def test_bad_config(tmp_path: Path, name: str) -> None:
    make, expected = BAD_TEXTS.get(name, (None, ""))
    content: str | bytes = make() if make else CONFIG_ONLY[name][0]
    expected = expected or CONFIG_ONLY[name][1]
    path = tmp_path / "driftcheck.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = files_in(tmp_path)
    done = run(tmp_path, "--config", str(path), "check", "production")
    assert_rejected(done, path, expected)
    assert files_in(tmp_path) == before


def good_snapshot(folder: Path, name: str, environment: str = "production") -> Path:
    path = folder / name
    write_snapshot(
        path,
        Snapshot(
            environment=environment,
            project="acme-prod",
            regions={"us-central1": "us-central1"},
            collected_at="t",
            tool_version="x",
            resources={"service/us-central1/a": {"x": 1}},
        ),
    )
    return path


SNAPSHOT_ONLY: dict[str, tuple[Callable[[str], str], str]] = {
    "another schema version": (
        lambda t: t.replace("schema_version: 2", "schema_version: 1"),
        "schema version 1",
    ),
    "missing schema version": (
        lambda t: t.replace("schema_version: 2\n", ""),
        "schema version None",
    ),
    "wrong type": (
        lambda t: t.replace("resources:\n", "resources: 5\nx_resources:\n"),
        "resources",
    ),
    "unknown key": (lambda t: t + "extra_field: 1\n", "unknown key 'extra_field'"),
    "missing required key": (lambda t: t.replace("environment: production\n", ""), "environment"),
    # Block style, as driftcheck writes: read by libyaml, with the same refusals.
    "block-style alias": (
        lambda t: (
            t.replace("  service/us-central1/a:\n", "  service/us-central1/a: &a\n")
            + "  service/us-central1/b: *a\n"
        ),
        "anchors are not allowed",
    ),
    "block-style duplicate key": (
        lambda t: t + "  service/us-central1/a:\n    x: 2\n",
        "duplicate key 'service/us-central1/a'",
    ),
    "block-style wrong type deep inside": (
        lambda t: t.replace("project: acme-prod", "project: [acme-prod]"),
        "project",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_TEXTS) + sorted(SNAPSHOT_ONLY))
def test_bad_snapshot_in_diff(tmp_path: Path, name: str) -> None:
    good = good_snapshot(tmp_path, "a.yaml")
    bad = good_snapshot(tmp_path, "b.yaml")
    if name in BAD_TEXTS:
        content = BAD_TEXTS[name][0]()
        expected = BAD_TEXTS[name][1].replace("'version'", "'schema_version'")
        if name == "duplicate keys":
            content = bad.read_text() + "schema_version: 2\n"
        elif name == "non-UTF-8 bytes":
            content = bad.read_bytes() + b"x: \xff\n"
        elif name == "50 MB file":
            # Snapshots are read up to the size driftcheck writes (1 GiB): 50 MB of junk is
            # refused for what it holds, in one line.
            expected = "schema_version"
        bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    else:
        mutate, expected = SNAPSHOT_ONLY[name]
        bad.write_text(mutate(bad.read_text()))
    before = files_in(tmp_path)
    done = run(tmp_path, "diff", str(good), str(bad), "--out-dir", str(tmp_path / "out"))
    assert_rejected(done, bad, expected)
    assert files_in(tmp_path) == before


def test_baseline_of_another_environment(tmp_path: Path) -> None:
    (tmp_path / "driftcheck.yaml").write_text(GOOD_CONFIG)
    (tmp_path / "baselines").mkdir()
    good_snapshot(tmp_path / "baselines", "production.yaml", environment="staging")
    before = files_in(tmp_path)
    done = run(tmp_path, "check", "production")
    assert_rejected(
        done, "baselines/production.yaml:2", "is of environment 'staging', expected 'production'"
    )
    assert files_in(tmp_path) == before
