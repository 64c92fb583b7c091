"""A secret's metadata in canonical form: replication, rotation, expiry policy, labels and
annotations. Versions, references and fingerprints are added by the collector, which reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.normalize import canonical, keyed
from driftcheck.sensitive import Redactor

# The secret's name is its key; the others change without anyone changing the configuration.
VOLATILE = (
    "name",
    "create_time",
    "etag",
    # An absolute moment, different in every environment; the ttl it came from is compared.
    "expire_time",
    # Principals Secret Manager derives from the secret's own ids: output only.
    "policy_member",
)


def normalize_secret(
    raw: dict[str, Any], neutral: Callable[[str], str], fingerprints: Fingerprinter
) -> dict[str, Any]:
    """``Secret.to_dict`` -> canonical metadata. Version aliases keep their names (a service
    may read ``prod``), not the version numbers they point at, which differ per environment."""
    metadata: dict[str, Any] = canonical(raw, neutral, redactor=Redactor(fingerprints))
    for volatile in VOLATILE:
        metadata.pop(volatile, None)
    managed = (metadata.get("replication") or {}).get("user_managed")
    if isinstance(managed, dict) and isinstance(managed.get("replicas"), list):
        # Replicas are a set of locations: their order means nothing.
        managed["replicas"] = keyed(managed["replicas"], "location", "replica")
    aliases = metadata.pop("version_aliases", None)
    if aliases:
        metadata["version_aliases"] = sorted(aliases)
    return metadata
