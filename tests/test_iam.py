"""The IAM permissions driftcheck needs are listed from its code, and the role file and README
say exactly those."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import yaml

import driftcheck
from driftcheck.collectors.interface import Permission

ROOT = Path(__file__).resolve().parent.parent


def permissions_in_code() -> set[str]:
    """Every ``Permission(...)`` constant at module level anywhere in the package."""
    found: set[str] = set()
    for module_info in pkgutil.walk_packages(driftcheck.__path__, "driftcheck."):
        if module_info.name.endswith("__main__"):
            continue  # running, not importing
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            # A constant, or one held by a module-level spec (what a Cloud Run kind lists with).
            held = vars(value).values() if dataclasses.is_dataclass(value) else ()
            found.update(v.name for v in (value, *held) if isinstance(v, Permission))
    return found


def test_the_code_asks_for_reads_only() -> None:
    names = permissions_in_code()
    assert "run.services.list" in names and "run.locations.list" in names
    for name in names:
        assert re.fullmatch(r"[a-z]+\.[a-zA-Z]+\.(list|get|getIamPolicy|access)", name), name


def test_the_custom_role_has_exactly_the_permissions_the_code_uses() -> None:
    role = yaml.safe_load((ROOT / "iam" / "driftcheck-reader.yaml").read_text(encoding="utf-8"))
    assert role["includedPermissions"] == sorted(permissions_in_code())
    assert role["stage"] == "GA"


def test_the_readme_lists_exactly_the_permissions_the_code_uses() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = (
        readme.index("<!-- permissions:start -->"),
        readme.index("<!-- permissions:end -->"),
    )
    listed = re.findall(r"^- `([a-zA-Z.]+)`", readme[start:end], flags=re.MULTILINE)
    assert listed == sorted(permissions_in_code())
