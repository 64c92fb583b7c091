"""Severity rules of Cloud SQL instances, their violations, and shared causes."""

from __future__ import annotations

import re

from driftcheck.catalogue import Advice, CatalogueRule, CauseRule, ViolationAdvice, named
from driftcheck.kinds.redis.catalogue import presence_of_reached, reach_changes
from driftcheck.model import Severity

_PATCH = "gcloud sql instances patch INSTANCE"

TIER = Advice(
    "The tier (and edition) sets CPU and memory, and with them PostgreSQL's default "
    "max_connections: a smaller tier answers slower under the baseline's load and refuses "
    "connections sooner.",
    f"{_PATCH} --tier=TIER (--edition=EDITION); the instance restarts.",
)
AVAILABILITY = Advice(
    "ZONAL has no standby: a zonal outage or maintenance takes the database down, where "
    "REGIONAL fails over.",
    f"{_PATCH} --availability-type=regional",
)
FLAGS = Advice(
    "Database flags change the server's behaviour; max_connections bounds how many connections "
    "all services together may open before new ones are refused.",
    f"{_PATCH} --database-flags=NAME=VALUE,… (the list replaces every flag; include the others)",
)
VERSION = Advice(
    "Another major version has other behaviour, extensions and planner: what passes against one "
    "may fail on the other.",
    f"{_PATCH} --database-version=VERSION (a major upgrade; test it first)",
)
NETWORK = Advice(
    "The private network decides from where the instance can be reached; a public IP exposes it "
    "beyond the VPC.",
    f"{_PATCH} --network=NETWORK --no-assign-ip (or --assign-ip)",
)
SSL = Advice(
    "SSL settings decide whether unencrypted connections are accepted: a client configured for "
    "one setting fails against the other.",
    f"{_PATCH} --ssl-mode=ENCRYPTED_ONLY|TRUSTED_CLIENT_CERTIFICATE_REQUIRED",
)
BACKUP = Advice(
    "Without backups or point-in-time recovery, a bad migration or deletion cannot be undone "
    "the way the baseline can.",
    f"{_PATCH} --backup-start-time=HH:MM --enable-point-in-time-recovery",
)
STATE = Advice(
    "An instance that is not RUNNABLE (stopped, suspended, in maintenance, failed) refuses "
    "connections.",
    "gcloud sql instances describe INSTANCE shows why; start it with "
    f"{_PATCH} --activation-policy=ALWAYS.",
)
REACH = Advice(
    "Which instance each service reaches differs: a service points at another database, or none.",
    "Point the service's variable at the instance (gcloud sql instances describe INSTANCE "
    "--format='value(connectionName,ipAddresses)'; gcloud run services update SERVICE "
    "--update-env-vars=VAR=VALUE).",
)
CAPACITY = Advice(
    "Disk size, type and I/O bound how much the database holds and how fast it answers.",
    f"{_PATCH} --storage-size=GB --storage-auto-increase",
)
SECURITY = Advice("Encryption settings differ: who holds the key differs.", "")
LABELS = Advice("Labels are metadata; they change no behaviour unless a tool selects by them.")
OTHER = Advice("A setting of the Cloud SQL instance differs from the baseline.")

CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule("sql-tier", "sql/*", "settings.tier", Severity.HIGH, advice=TIER),
    CatalogueRule("sql-tier", "sql/*", "settings.edition", Severity.MEDIUM, advice=TIER),
    CatalogueRule(
        "sql-availability",
        "sql/*",
        "settings.availability_type",
        Severity.HIGH,
        advice=AVAILABILITY,
    ),
    CatalogueRule(
        "sql-flags", "sql/*", "settings.database_flags.max_connections", Severity.HIGH, advice=FLAGS
    ),
    CatalogueRule("sql-flags", "sql/*", "settings.database_flags*", Severity.MEDIUM, advice=FLAGS),
    CatalogueRule("sql-version", "sql/*", "database_version", Severity.HIGH, advice=VERSION),
    CatalogueRule("sql-version", "sql/*", "maintenance_version", Severity.LOW, advice=VERSION),
    CatalogueRule(
        "sql-network",
        "sql/*",
        "settings.ip_configuration.ipv4_enabled",
        Severity.HIGH,
        Severity.CRITICAL,
        lambda baseline, actual: actual is True and baseline is not True,
        NETWORK,
    ),
    CatalogueRule("sql-ssl", "sql/*", "settings.ip_configuration.*ssl*", Severity.HIGH, advice=SSL),
    CatalogueRule(
        "sql-network", "sql/*", "settings.ip_configuration*", Severity.HIGH, advice=NETWORK
    ),
    CatalogueRule(
        "sql-network", "sql/*", "sql_network_architecture", Severity.MEDIUM, advice=NETWORK
    ),
    CatalogueRule(
        "sql-backup", "sql/*", "settings.backup_configuration*", Severity.MEDIUM, advice=BACKUP
    ),
    CatalogueRule("sql-state", "sql/*", "state", Severity.HIGH, advice=STATE),
    CatalogueRule("sql-state", "sql/*", "settings.activation_policy", Severity.HIGH, advice=STATE),
    CatalogueRule("sql-reach", "sql/*", "used_by*", Severity.HIGH, advice=REACH),
    CatalogueRule("sql-capacity", "sql/*", "settings.data_*", Severity.MEDIUM, advice=CAPACITY),
    CatalogueRule("sql-capacity", "sql/*", "settings.storage_*", Severity.MEDIUM, advice=CAPACITY),
    CatalogueRule("sql-capacity", "sql/*", "max_disk_size", Severity.MEDIUM, advice=CAPACITY),
    CatalogueRule(
        "sql-security", "sql/*", "disk_encryption_configuration*", Severity.HIGH, advice=SECURITY
    ),
    CatalogueRule("labels", "sql/*", "settings.user_labels*", Severity.INFO, advice=LABELS),
    CatalogueRule("sql-other", "sql/*", "*", Severity.LOW, advice=OTHER),
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice(
        "cloud-sql-reference-unresolved",
        Severity.CRITICAL,
        Advice(
            "A service's variable names a Cloud SQL instance (an address or a connection name) "
            "that this environment does not have: every connection fails or hangs.",
            "Set the variable to an instance of this environment (gcloud sql instances list "
            "--format='value(name,connectionName,ipAddresses)'; gcloud run services update "
            "SERVICE --update-env-vars=VAR=VALUE).",
        ),
    ),
    ViolationAdvice("cloud-sql-reference-not-ready", Severity.CRITICAL, STATE),
    ViolationAdvice(
        "cloud-sql-network-mismatch",
        Severity.HIGH,
        Advice(
            "The service egresses onto another network than the instance's private network (or "
            "has no VPC egress): the private address is unreachable from where its traffic "
            "leaves.",
            "Point the service at a connector or Direct VPC network on the instance's private "
            "network: gcloud run services update SERVICE --vpc-connector=CONNECTOR.",
        ),
    ),
    ViolationAdvice(
        "cloud-sql-connection-budget",
        Severity.HIGH,
        Advice(
            "Every instance of every service may open its whole pool: when max instances × pool "
            "size, summed over the services, exceeds max_connections, a scale-out is met with "
            "'too many connections' and requests fail or wait, a documented outage pattern.",
            "Raise max_connections (gcloud sql instances patch INSTANCE "
            "--database-flags=max_connections=N, with the other flags), a larger tier, lower "
            "pool sizes or max instances, or a pooler in between.",
        ),
    ),
)

CAUSES: tuple[CauseRule, ...] = (
    CauseRule(
        "dependency-presence",
        "sql/*",
        re.compile(""),
        named("presence"),
        from_values=presence_of_reached,
    ),
    # The budget violation and the max_connections flag it reads are one fact.
    CauseRule(
        "sql-budget",
        "sql/*",
        re.compile(r"connections\.max_connections|settings\.database_flags\.max_connections"),
        named("sql-budget"),
    ),
    CauseRule(
        "dependency-reach",
        "sql/*",
        re.compile(r"used_by"),
        named("sql-reach"),
        from_values=reach_changes,
    ),
    CauseRule("sql-state", "sql/*", re.compile(r"state"), named("sql-state")),
)
