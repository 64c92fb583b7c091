"""Severity rules of Memorystore for Redis instances, their violations, and shared causes."""

from __future__ import annotations

import re
from typing import Any

from driftcheck.catalogue import Advice, CatalogueRule, CauseRule, ViolationAdvice, named
from driftcheck.model import Severity

_UPDATE = "gcloud redis instances update INSTANCE --region=REGION"

TIER = Advice(
    "The tier decides availability: BASIC is one node with no replica, so a maintenance or a "
    "failure empties the cache and drops every connection, where STANDARD_HA fails over to a "
    "replica. What is tested on one tier does not behave the same on the other.",
    "The tier cannot be changed in place: create an instance with the baseline's tier "
    "(gcloud redis instances create … --tier=standard), then point the services at it.",
)

REACH = Advice(
    "Which instance each service reaches differs: a service points at an address that is another "
    "instance, or none, so it shares (or loses) the cache that the baseline's does not.",
    "Point the service's variable at the instance's current address (gcloud redis instances "
    "describe INSTANCE --region=REGION --format='value(host,port)'; gcloud run services update "
    "SERVICE --update-env-vars=VAR=HOST).",
)

NETWORK = Advice(
    "The authorized network and connect mode decide from where the instance can be reached: "
    "services egressing onto another network cannot connect at all.",
    "The network cannot be changed in place: recreate the instance on the baseline's network "
    "(gcloud redis instances create … --network=NETWORK --connect-mode=MODE).",
)

SECURITY = Advice(
    "AUTH, in-transit encryption and the encryption key decide who can connect and whether "
    "traffic can be read on the network: a client configured for one setting fails against the "
    "other.",
    f"{_UPDATE} --enable-auth (AUTH); transit encryption is set when the instance is created.",
)

STATE = Advice(
    "An instance that is not READY (creating, repairing, in maintenance, suspended) refuses or "
    "drops connections.",
    "gcloud redis instances describe INSTANCE --region=REGION shows why; wait for it, or fail "
    "over (gcloud redis instances failover).",
)

VERSION = Advice(
    "Another Redis version has other commands and defaults: what runs against one may fail on "
    "the other.",
    f"{_UPDATE} … or gcloud redis instances upgrade INSTANCE --redis-version=VERSION",
)

CAPACITY = Advice(
    "Memory, replicas and read replicas bound how much the cache holds and how many reads it "
    "serves: a smaller instance evicts what the baseline keeps.",
    f"{_UPDATE} --size=GB --replica-count=N --read-replicas-mode=MODE",
)

CONFIG = Advice(
    "Redis configuration (maxmemory-policy, notify-keyspace-events, timeouts) changes eviction "
    "and client behaviour.",
    f"{_UPDATE} --update-redis-config=KEY=VALUE",
)

PERSISTENCE = Advice(
    "Persistence decides whether the cache survives a restart: without it, a failover or "
    "maintenance starts empty.",
    f"{_UPDATE} --persistence-mode=rdb --rdb-snapshot-period=…",
)

AVAILABILITY = Advice(
    "The zones the instance runs in decide which zonal outage takes it down.",
    "Zones are chosen when the instance is created.",
)

LABELS = Advice("Labels are metadata; they change no behaviour unless a tool selects by them.")

OTHER = Advice("A setting of the Redis instance differs from the baseline.")

CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("redis-tier", "redis/*", "tier", Severity.HIGH, advice=TIER),
    CatalogueRule("redis-reach", "redis/*", "used_by*", Severity.HIGH, advice=REACH),
    CatalogueRule("redis-network", "redis/*", "authorized_network", Severity.HIGH, advice=NETWORK),
    CatalogueRule("redis-network", "redis/*", "connect_mode", Severity.HIGH, advice=NETWORK),
    CatalogueRule("redis-security", "redis/*", "auth_enabled", Severity.HIGH, advice=SECURITY),
    CatalogueRule(
        "redis-security", "redis/*", "transit_encryption_mode", Severity.HIGH, advice=SECURITY
    ),
    CatalogueRule(
        "redis-security", "redis/*", "customer_managed_key", Severity.HIGH, advice=SECURITY
    ),
    CatalogueRule("redis-state", "redis/*", "state", Severity.HIGH, advice=STATE),
    CatalogueRule("redis-state", "redis/*", "suspension_reasons*", Severity.HIGH, advice=STATE),
    CatalogueRule("redis-version", "redis/*", "redis_version", Severity.MEDIUM, advice=VERSION),
    CatalogueRule("redis-version", "redis/*", "maintenance_version", Severity.LOW, advice=VERSION),
    CatalogueRule("redis-capacity", "redis/*", "memory_size_gb", Severity.MEDIUM, advice=CAPACITY),
    CatalogueRule("redis-capacity", "redis/*", "replica_count", Severity.MEDIUM, advice=CAPACITY),
    CatalogueRule(
        "redis-capacity", "redis/*", "read_replicas_mode", Severity.MEDIUM, advice=CAPACITY
    ),
    CatalogueRule("redis-config", "redis/*", "redis_configs*", Severity.MEDIUM, advice=CONFIG),
    CatalogueRule(
        "redis-persistence", "redis/*", "persistence_config*", Severity.MEDIUM, advice=PERSISTENCE
    ),
    CatalogueRule(
        "redis-availability", "redis/*", "*location_id", Severity.MEDIUM, advice=AVAILABILITY
    ),
    CatalogueRule("labels", "redis/*", "labels*", Severity.INFO, advice=LABELS),
    CatalogueRule("redis-other", "redis/*", "*", Severity.LOW, advice=OTHER),
)

UNRESOLVED = Advice(
    "A service's variable names a Redis address that no instance of this environment holds (an "
    "instance recreated with a new IP, a value copied from another environment): every "
    "connection times out, and only a probe inside the VPC would see it.",
    "Set the variable to the instance's address (gcloud redis instances describe INSTANCE "
    "--region=REGION --format='value(host,port)'; gcloud run services update SERVICE "
    "--update-env-vars=VAR=HOST).",
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice("redis-reference-unresolved", Severity.CRITICAL, UNRESOLVED),
    ViolationAdvice("redis-reference-not-ready", Severity.CRITICAL, STATE),
    ViolationAdvice(
        "redis-network-mismatch",
        Severity.HIGH,
        Advice(
            "The service egresses onto another network than the instance's authorized one (its "
            "connector's or Direct VPC network differs, or it has no VPC egress): the address "
            "is unreachable from where its traffic leaves.",
            "Point the service at a connector (or Direct VPC network) on the instance's "
            "authorized network: gcloud run services update SERVICE --vpc-connector=CONNECTOR "
            "(or --network=NETWORK --subnet=SUBNET).",
        ),
    ),
)


def reach_changes(baseline: Any, actual: Any) -> list[str]:
    """The references that reach an instance on one side only: each joins the finding of the
    service variable that names it."""
    before = set(baseline) if isinstance(baseline, list) else set()
    after = set(actual) if isinstance(actual, list) else set()
    return [f"secret-reference:{where}" for where in sorted(before ^ after)]


def presence_of_reached(baseline: Any, actual: Any) -> list[str]:
    """An instance (or an address reaching none) on one side only joins the finding of the
    service variables that name it."""
    body = actual if isinstance(actual, dict) else baseline
    users = body.get("used_by") if isinstance(body, dict) else None
    return [f"secret-reference:{where}" for where in users or []]


CAUSES: tuple[CauseRule, ...] = (
    CauseRule(
        "dependency-presence",
        "redis/*",
        re.compile(""),
        named("presence"),
        from_values=presence_of_reached,
    ),
    CauseRule(
        "dependency-reach",
        "redis/*",
        re.compile(r"used_by"),
        named("redis-reach"),
        from_values=reach_changes,
    ),
    CauseRule("redis-state", "redis/*", re.compile(r"state"), named("redis-state")),
    # BASIC is one node: no replica, no read replica, no second zone. Those differences follow
    # from the tier when it differs too; on the same tier they are findings of their own.
    CauseRule("redis-tier", "redis/*", re.compile(r"tier"), named("redis-tier")),
    CauseRule(
        "redis-tier",
        "redis/*",
        re.compile(r"replica_count|read_replicas_mode|alternative_location_id"),
        named("redis-tier"),
        follows=True,
    ),
)
