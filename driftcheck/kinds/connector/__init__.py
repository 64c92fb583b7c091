"""Serverless VPC Access connectors (``connector/<region>/<name>``): read because a workload
egresses through them, or the config lists them."""

from __future__ import annotations

from driftcheck.kinds.connector import catalogue
from driftcheck.kinds.connector.collect import EarlyConnectorListings, collect_connectors
from driftcheck.kinds.connector.normalize import FIELDS, normalize_connector
from driftcheck.kinds.connector.violations import connector_violations
from driftcheck.kinds.interface import ResourceKind

CONNECTOR = ResourceKind(
    name="connector",
    stage=1,
    regional=True,
    collect=collect_connectors,
    early=EarlyConnectorListings,
    normalize=normalize_connector,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=connector_violations,
    # Which workloads use a connector is their own setting (template.vpc_access), judged there.
    judged_elsewhere=("used_by",),
    fields=FIELDS,
)
