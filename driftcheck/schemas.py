"""JSON Schemas generated from the models; ``python -m driftcheck.schemas`` rewrites them.

The committed files in ``schemas/`` ship inside the wheel as ``driftcheck/_schemas`` (see
pyproject.toml), so ``driftcheck schema NAME`` prints the same bytes from an installed package
as from a clone. A test fails when a committed schema is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from driftcheck.claims import ClaimPolicy
from driftcheck.config import Config
from driftcheck.emulator.scenario import Scenario
from driftcheck.errors import UsageError
from driftcheck.model import DriftReport, Snapshot

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
PACKAGED_SCHEMAS_DIR = Path(__file__).resolve().parent / "_schemas"
SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "config.schema.json": Config,
    "snapshot.schema.json": Snapshot,
    "report.schema.json": DriftReport,
    "claim-policy.schema.json": ClaimPolicy,
    "scenario.schema.json": Scenario,
}
SCHEMA_NAMES = sorted(name.removesuffix(".schema.json") for name in SCHEMA_MODELS)


def schema_text(model: type[BaseModel]) -> str:
    """The schema of ``model`` as stable, indented JSON."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def shipped_schema(name: str) -> str:
    """The text of schema ``name`` (``config``, ``report``…) as shipped with this install.

    An installed wheel carries the files in ``driftcheck/_schemas``; a source checkout (an
    editable install) reads ``schemas/``. Both are the committed files, never regenerated here.
    """
    if name not in SCHEMA_NAMES:
        raise UsageError(f"unknown schema {name!r}; one of: {', '.join(SCHEMA_NAMES)}")
    filename = f"{name}.schema.json"
    for directory in (PACKAGED_SCHEMAS_DIR, SCHEMAS_DIR):
        path = directory / filename
        if path.is_file():
            return path.read_text(encoding="utf-8")
    # Neither a wheel nor a checkout: the models still know their schema.
    return schema_text(SCHEMA_MODELS[filename])


def write_schemas(directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every schema into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMA_MODELS.items():
        path = directory / name
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_schemas():
        sys.stdout.write(f"wrote {written_path}\n")
