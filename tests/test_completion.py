"""Shell completion through click's ``_DRIFTCHECK_COMPLETE``: environment names from the config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult


def complete(
    run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch, words: str
) -> list[str]:
    """What bash completion offers for the last word of ``words``."""
    monkeypatch.setenv("_DRIFTCHECK_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    result = run_cli()
    assert result.code == 0 and result.stderr == ""
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_environment_names_complete_from_the_config(
    workdir: Path, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    assert complete(run_cli, monkeypatch, "driftcheck check ") == ["production", "staging"]
    assert complete(run_cli, monkeypatch, "driftcheck check st") == ["staging"]
    assert complete(run_cli, monkeypatch, "driftcheck check staging --against p") == ["production"]
    assert complete(run_cli, monkeypatch, "driftcheck baseline ") == ["production", "staging"]
    config = workdir / "driftcheck.yaml"
    other = workdir / "other.yaml"
    other.write_text(
        config.read_text(encoding="utf-8").replace("staging:", "qa:"), encoding="utf-8"
    )
    assert complete(run_cli, monkeypatch, f"driftcheck --config {other} collect ") == [
        "production",
        "qa",
    ]


def test_a_config_that_cannot_be_read_completes_nothing_and_says_nothing(
    tmp_path: Path, run_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert complete(run_cli, monkeypatch, "driftcheck check ") == []
    (tmp_path / "driftcheck.yaml").write_text("version: [\n", encoding="utf-8")
    assert complete(run_cli, monkeypatch, "driftcheck check ") == []
    assert complete(run_cli, monkeypatch, "driftcheck sch") == ["schema"]
