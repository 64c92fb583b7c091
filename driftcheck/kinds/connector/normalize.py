"""A Serverless VPC Access connector in canonical form, and what is done with each of its fields.

The network becomes ``projects/<p>/global/networks/<n>`` (the API gives a bare name), so it
compares with a Redis instance's authorized network and a Cloud SQL instance's private one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from driftcheck.kinds.fields import FieldTable, compared, normalized, volatile
from driftcheck.kinds.reach import network_path
from driftcheck.normalize import prune

FIELDS: FieldTable = {
    "Connector": {
        "name": volatile("the connector's name is its key"),
        "network": normalized("as projects/<p>/global/networks/<n>, neutral", "connector-network"),
        "ip_cidr_range": compared("connector-network"),
        "state": normalized("lower case", "connector-state"),
        "min_throughput": compared("connector-capacity"),
        "max_throughput": compared("connector-capacity"),
        "connected_projects": volatile("which projects use the connector: a fact of use"),
        "subnet": normalized("project id neutral", "connector-network"),
        "machine_type": compared("connector-capacity"),
        "min_instances": compared("connector-capacity"),
        "max_instances": compared("connector-capacity"),
    },
}

# What the API applies when a connector is created without them.
DEFAULTS: dict[str, Any] = {
    "machine_type": "e2-micro",
    "min_instances": 2,
    "max_instances": 10,
    "min_throughput": 200,
    "max_throughput": 300,
}


def normalize_connector(raw: Mapping[str, Any], neutral: Callable[[str], str]) -> dict[str, Any]:
    """``Connector.to_dict`` -> canonical body (``exists: true``; users added by the collector)."""
    table = FIELDS["Connector"]
    body: dict[str, Any] = {
        key: value
        for key, value in raw.items()
        if key in table and table[key].treatment != "volatile"
    }
    for key, default in DEFAULTS.items():
        if not body.get(key):
            body[key] = default
    subnet = dict(body.get("subnet") or {})
    project = neutral(str(subnet.get("project_id") or "")) or "${project}"
    if raw.get("network"):
        body["network"] = neutral(network_path(str(raw["network"]), project))
    if subnet:
        body["subnet"] = {k: neutral(str(v)) for k, v in subnet.items() if v}
    state = str(body.get("state") or "state_unspecified").lower()
    body["state"] = state
    if body.get("ip_cidr_range"):
        body["ip_cidr_range"] = str(body["ip_cidr_range"])
    return {"exists": True, **prune(body)}
