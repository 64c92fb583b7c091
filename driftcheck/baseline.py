"""Reading, writing and verifying snapshot files (a baseline is an approved snapshot).

Files are written atomically and canonically: a header (schema version, environment, project,
collection time, tool version, fingerprint key id) followed by a body with sorted keys, so that
collecting an unchanged estate gives a byte-identical body.
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from driftcheck.config import describe_validation_error
from driftcheck.errors import BaselineError, InputError, ReportError
from driftcheck.model import SNAPSHOT_SCHEMA_VERSION, Snapshot
from driftcheck.yamlio import (
    MAX_SNAPSHOT_BYTES,
    dump_yaml,
    load_large_yaml,
    read_text,
    write_text_atomic,
)

HEADER_FIELDS = (
    "schema_version",
    "environment",
    "project",
    "project_number",
    "regions",
    "name_map",
    "collected_at",
    "tool_version",
    "fingerprint_key_id",
)
_PER_RUN_FIELDS = frozenset({"collected_at", "tool_version"})


def snapshot_text(snapshot: Snapshot) -> str:
    """The canonical YAML text of a snapshot."""
    data = snapshot.model_dump(mode="json")
    header = {name: data[name] for name in HEADER_FIELDS}
    body = {"resources": data["resources"]}
    if data["errors"]:
        body["errors"] = data["errors"]
    if data["context"]:
        body["context"] = data["context"]
    header_text = yaml.safe_dump(header, sort_keys=False, default_flow_style=False, width=4096)
    return header_text + dump_yaml(body)


def body_of(snapshot: Snapshot) -> str:
    """What must be identical when nothing changed: the body, and the identity it was read with
    (everything but the collection time and the tool version)."""
    data = snapshot.model_dump(mode="json")
    identity = {name: data[name] for name in HEADER_FIELDS if name not in _PER_RUN_FIELDS}
    return dump_yaml({**identity, "resources": data["resources"], "errors": data["errors"]})


def approved(snapshot: Snapshot) -> Snapshot:
    """What a baseline keeps of a snapshot: everything but what the runner itself holds."""
    from driftcheck.compare import runner_observations

    resources = {}
    for key, body in snapshot.resources.items():
        dropped = {field for glob, field in runner_observations() if fnmatchcase(key, glob)}
        resources[key] = {k: v for k, v in body.items() if k not in dropped} if dropped else body
    # Who changed what last is context for a report, not part of what is approved.
    return snapshot.model_copy(update={"resources": resources, "context": {}})


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write atomically: readers see the old file or the new one, never half of one. A snapshot
    larger than driftcheck reads is refused before anything is replaced."""
    text = snapshot_text(snapshot)
    size = len(text.encode("utf-8"))
    if size > MAX_SNAPSHOT_BYTES:
        raise ReportError(
            f"{path}: the snapshot is {size} bytes, larger than the {MAX_SNAPSHOT_BYTES} byte "
            "limit driftcheck reads; narrow the environment (services, regions)"
        )
    write_text_atomic(path, text)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot_file_text(path: Path, what: str = "snapshot") -> str:
    """The text of a snapshot or baseline file, within the size driftcheck reads."""
    try:
        return read_text(path, what, MAX_SNAPSHOT_BYTES)
    except InputError as exc:
        raise BaselineError(str(exc)) from None


def header_matches(text: str, environment: str) -> bool:
    """Whether the lines above a snapshot's body name this schema version and ``environment``
    (read at once, so that a wrong or outdated file is refused before any API call while its
    body is parsed meanwhile). False for anything unusual: a full read says what is wrong."""
    end = text.find("\nresources:")
    if end < 0 or end > 65536:
        return False
    try:
        header = yaml.safe_load(text[: end + 1])
    except yaml.YAMLError:
        return False
    return (
        isinstance(header, dict)
        and header.get("schema_version") == SNAPSHOT_SCHEMA_VERSION
        and header.get("environment") == environment
    )


def read_snapshot(
    path: Path, what: str = "snapshot", environment: str | None = None, text: str | None = None
) -> Snapshot:
    """Read and validate a snapshot or baseline; every error names file and place. ``text``:
    the file's text, when :func:`snapshot_file_text` has already read it."""
    try:
        document = load_large_yaml(path, what, MAX_SNAPSHOT_BYTES, text)
    except InputError as exc:
        raise BaselineError(str(exc)) from None
    data: Any = document.data
    if not isinstance(data, dict):
        raise BaselineError(f"{path}:1: {what} must be a mapping with a schema_version header")
    version = data.get("schema_version")
    if version != SNAPSHOT_SCHEMA_VERSION:
        raise BaselineError(
            f"{document.where(('schema_version',))}: schema_version: {what} has schema version "
            f"{version!r}; this driftcheck reads version {SNAPSHOT_SCHEMA_VERSION}"
        )
    try:
        snapshot = Snapshot.model_validate(data)
    except ValidationError as exc:
        raise BaselineError(describe_validation_error(exc, document, Snapshot)) from None
    if environment is not None and snapshot.environment != environment:
        raise BaselineError(
            f"{document.where(('environment',))}: environment: {what} is of environment "
            f"{snapshot.environment!r}, expected {environment!r}"
        )
    return snapshot


def is_canonical(path: Path, snapshot: Snapshot) -> bool:
    """Whether the file is byte-for-byte what driftcheck would write for its content."""
    return path.read_text(encoding="utf-8") == snapshot_text(snapshot)
