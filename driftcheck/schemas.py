"""JSON Schemas generated from the models; ``python -m driftcheck.schemas`` rewrites them.

A test fails when a committed schema is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from driftcheck.claims import ClaimPolicy
from driftcheck.config import Config
from driftcheck.model import DriftReport, Snapshot

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "config.schema.json": Config,
    "snapshot.schema.json": Snapshot,
    "report.schema.json": DriftReport,
    "claim-policy.schema.json": ClaimPolicy,
}


def schema_text(model: type[BaseModel]) -> str:
    """The schema of ``model`` as stable, indented JSON."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


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
