"""JSON report, per the report contract (schema in schemas/report.schema.json)."""

from __future__ import annotations

import json

from driftcheck.model import DriftReport


def render(report: DriftReport) -> str:
    """Indented JSON with a trailing newline."""
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
