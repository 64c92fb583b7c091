"""A Cloud SQL instance in canonical form, and what is done with each of its fields.

Kept: version, tier, edition, availability, state, database flags (a map by name), private
network, public IP, SSL, backups and point-in-time recovery. Addresses and names that differ in
every environment (IP addresses, connection name, DNS names) are never compared: which instance
a service reaches is (``used_by``, added by the collector). The root password is input-only and
never returned; it is dropped all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftcheck.kinds.fields import Field, Treatment, compared, normalized, volatile
from driftcheck.kinds.reach import network_path
from driftcheck.normalize import canonical, prune
from driftcheck.sensitive import Redactor

_ADDRESS = "an address or name per environment: compared by which instance a service reaches"
_MOMENT = "a moment or a measurement, not configuration"
_ASSIGNED = "assigned by Google per instance"
_TOPOLOGY = "replication topology and cross-region features: not judged yet"


def _all(names: str, field: Field) -> dict[str, Field]:
    return dict.fromkeys(names.split(), field)


FIELDS = {
    "DatabaseInstance": {
        **_all("kind etag self_link project name region", volatile("identity: the key says it")),
        **_all(
            "ip_addresses ipv6_address connection_name dns_name primary_dns_name dns_names "
            "write_endpoint psc_service_attachment_link gce_zone secondary_gce_zone",
            volatile(_ADDRESS),
        ),
        **_all(
            "current_disk_size create_time scheduled_maintenance out_of_disk_report "
            "available_maintenance_versions upgradable_database_versions "
            "database_installed_version disk_encryption_status suspension_reason "
            "satisfies_pzs satisfies_pzi nodes",
            volatile(_MOMENT),
        ),
        **_all("server_ca_cert service_account_email_address", volatile(_ASSIGNED)),
        "root_password": volatile("input only, a secret: never kept"),
        **_all(
            "failover_replica master_instance_name replica_names replica_configuration "
            "on_premises_configuration replication_cluster switch_transaction_logs_to_cloud_"
            "storage_enabled include_replicas_for_major_version_upgrade skip_precheck "
            "gemini_config node_count deployment_info database_center_integration_enabled "
            "database_center_integration tags",
            volatile(_TOPOLOGY),
        ),
        "state": normalized("lower case", "sql-state"),
        "database_version": normalized("lower case", "sql-version"),
        "maintenance_version": compared("sql-version"),
        "settings": normalized("see Settings", "sql-settings"),
        "max_disk_size": compared("sql-capacity"),
        "instance_type": normalized("lower case", "sql-other"),
        "backend_type": normalized("lower case", "sql-other"),
        "disk_encryption_configuration": compared("sql-security"),
        "sql_network_architecture": normalized("lower case", "sql-network"),
    },
    "Settings": {
        **_all("settings_version kind", volatile("changes on every update")),
        "tier": compared("sql-tier"),
        "edition": normalized("lower case, default enterprise", "sql-tier"),
        "availability_type": normalized("lower case, default zonal", "sql-availability"),
        "database_flags": normalized("map by flag name", "sql-flags"),
        "ip_configuration": normalized("private network as projects/<p>/…", "sql-network"),
        "backup_configuration": normalized("backup start time kept", "sql-backup"),
        "activation_policy": normalized("lower case", "sql-state"),
        "user_labels": compared("labels"),
        **_all(
            "data_disk_size_gb data_disk_type storage_auto_resize storage_auto_resize_limit "
            "data_disk_provisioned_iops data_disk_provisioned_throughput data_cache_config",
            compared("sql-capacity"),
        ),
        **_all(
            "authorized_gae_applications pricing_plan replication_type location_preference "
            "maintenance_window database_replication_enabled crash_safe_replication_enabled "
            "active_directory_config collation deny_maintenance_periods insights_config "
            "password_validation_policy sql_server_audit_config connector_enforcement "
            "deletion_protection_enabled time_zone advanced_machine_features "
            "replication_lag_max_seconds enable_google_ml_integration "
            "enable_dataplex_integration retain_backups_on_delete connection_pool_config "
            "final_backup_config read_pool_auto_scale_config accelerated_replica_mode "
            "auto_upgrade_enabled entraid_config data_api_access performance_capture_config",
            compared("sql-other"),
        ),
    },
}

SETTINGS_DEFAULTS: dict[str, Any] = {"edition": "enterprise", "availability_type": "zonal"}
_LOWER_TOP = (
    "state",
    "database_version",
    "instance_type",
    "backend_type",
    "sql_network_architecture",
)
_LOWER_SETTINGS = ("edition", "availability_type", "activation_policy", "data_disk_type")


def _kept(raw: Mapping[str, Any], table: Mapping[str, Field]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k in table and table[k].treatment != Treatment.VOLATILE}


def _lower(body: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if isinstance(body.get(key), str):
            value = body[key].lower()
            body[key] = "" if value.endswith("_unspecified") else value


def normalize_sql(
    raw: Mapping[str, Any], neutral: Callable[[str], str], redactor: Redactor | None = None
) -> dict[str, Any]:
    """``DatabaseInstance.to_dict`` -> canonical body (``exists: true``; users and the
    connection budget are added by the collector)."""
    body = _kept(raw, FIELDS["DatabaseInstance"])
    settings = _kept(raw.get("settings") or {}, FIELDS["Settings"])
    flags = settings.pop("database_flags", None) or []
    settings["database_flags"] = {
        str(flag.get("name")): str(flag.get("value", "on")) for flag in flags if flag.get("name")
    }
    ip = dict(settings.get("ip_configuration") or {})
    if ip.get("private_network"):
        ip["private_network"] = network_path(str(ip["private_network"]))
    ip["ipv4_enabled"] = bool(ip.get("ipv4_enabled"))
    settings["ip_configuration"] = ip
    backup = dict(settings.get("backup_configuration") or {})
    backup.pop("kind", None)
    backup["enabled"] = bool(backup.get("enabled"))
    backup["point_in_time_recovery_enabled"] = bool(backup.get("point_in_time_recovery_enabled"))
    settings["backup_configuration"] = backup
    _lower(settings, _LOWER_SETTINGS)
    body["settings"] = settings
    _lower(body, _LOWER_TOP)
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=redactor))
    settings_out = result.setdefault("settings", {})
    for key, default in SETTINGS_DEFAULTS.items():
        settings_out.setdefault(key, default)
    settings_out.setdefault("ip_configuration", {}).setdefault("ipv4_enabled", False)
    backups = settings_out.setdefault("backup_configuration", {})
    backups.setdefault("enabled", False)
    backups.setdefault("point_in_time_recovery_enabled", False)
    result.setdefault("state", "sql_instance_state_unspecified")
    return {"exists": True, **result}
