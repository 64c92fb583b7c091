"""Severity rules of Serverless VPC Access connectors, and their violations."""

from __future__ import annotations

import re

from driftcheck.catalogue import Advice, CatalogueRule, CauseRule, ViolationAdvice, named
from driftcheck.model import Severity

STATE = Advice(
    "A connector that is not READY carries no traffic: every private address a service reaches "
    "through it (Redis, PostgreSQL) times out or is refused, whatever the service's own "
    "settings say.",
    "gcloud compute networks vpc-access connectors describe CONNECTOR --region=REGION shows why; "
    "a connector in ERROR is usually recreated (delete, then create with the baseline's "
    "network, range and machine type), or the service moved to a healthy connector "
    "(gcloud run services update SERVICE --vpc-connector=CONNECTOR).",
)

NETWORK = Advice(
    "The connector's network, subnet or range decide which private addresses a service can "
    "reach: on another network, Redis and Cloud SQL of the baseline's network are unreachable.",
    "A connector's network cannot be changed: create one on the baseline's network (gcloud "
    "compute networks vpc-access connectors create … --network=NETWORK --range=RANGE) and point "
    "the services at it.",
)

CAPACITY = Advice(
    "Machine type, instance counts and throughput bound how much traffic the connector carries: "
    "a smaller one saturates under a load the baseline carries, as latency first.",
    "gcloud compute networks vpc-access connectors update CONNECTOR --region=REGION "
    "--machine-type=… --min-instances=… --max-instances=…",
)

CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("connector-state", "connector/*", "state", Severity.HIGH, advice=STATE),
    CatalogueRule("connector-network", "connector/*", "network", Severity.HIGH, advice=NETWORK),
    CatalogueRule("connector-network", "connector/*", "subnet*", Severity.HIGH, advice=NETWORK),
    CatalogueRule(
        "connector-network", "connector/*", "ip_cidr_range", Severity.HIGH, advice=NETWORK
    ),
    CatalogueRule("connector-capacity", "connector/*", "*", Severity.MEDIUM, advice=CAPACITY),
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice("connector-not-ready", Severity.CRITICAL, STATE),
    ViolationAdvice(
        "connector-missing",
        Severity.CRITICAL,
        Advice(
            "A service egresses through a connector that does not exist: its private traffic "
            "has nowhere to go, and a new revision cannot be deployed.",
            "Create the connector (gcloud compute networks vpc-access connectors create) or "
            "point the service at one that exists (gcloud run services update SERVICE "
            "--vpc-connector=CONNECTOR).",
        ),
    ),
)

CAUSES: tuple[CauseRule, ...] = (
    # The connector's state across environments and its violation are one fact.
    CauseRule("connector-state", "connector/*", re.compile(r"|state|exists"), named("connector")),
)
