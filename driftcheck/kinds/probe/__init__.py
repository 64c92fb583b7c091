"""Live probes (``probe/<name>``): a WebSocket handshake or a health endpoint, as clients see it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.probe import catalogue
from driftcheck.kinds.probe.collect import collect_probes
from driftcheck.kinds.probe.normalize import normalize_probe
from driftcheck.model import Finding
from driftcheck.violations import defect_violations


def probe_violations(environment: str, resource: str, body: dict[str, Any]) -> Iterable[Finding]:
    """One violation per defect the probe recorded."""
    return defect_violations(resource, "defects", "probe", body.get("defects"))


PROBE = ResourceKind(
    name="probe",
    stage=0,
    collect=collect_probes,
    normalize=normalize_probe,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=probe_violations,
    # Defects are violations, judged in the environment alone.
    judged_elsewhere=("defects*",),
)
