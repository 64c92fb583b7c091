"""The registry of resource kinds: every kind driftcheck reads, one line each.

Adding a kind is a folder under ``driftcheck/kinds/`` (collect, normalize, catalogue) and a line
here; the core iterates :data:`KINDS` and never names a kind.
"""

from __future__ import annotations

from driftcheck.kinds.auth_policy import AUTH_POLICY
from driftcheck.kinds.connector import CONNECTOR
from driftcheck.kinds.interface import CollectRequest, ResourceKind
from driftcheck.kinds.job import JOB
from driftcheck.kinds.probe import PROBE
from driftcheck.kinds.redis import REDIS
from driftcheck.kinds.secret import SECRET
from driftcheck.kinds.service import SERVICE
from driftcheck.kinds.sql import SQL
from driftcheck.kinds.worker_pool import WORKER_POOL

KINDS: tuple[ResourceKind, ...] = (
    SERVICE,
    JOB,
    WORKER_POOL,
    SECRET,
    AUTH_POLICY,
    PROBE,
    CONNECTOR,
    REDIS,
    SQL,
)
_BY_NAME = {kind.name: kind for kind in KINDS}

__all__ = ["KINDS", "CollectRequest", "ResourceKind", "kind_named", "kind_of", "stages"]


def kind_of(resource: str) -> ResourceKind | None:
    """The kind of a snapshot key (``service/eu/api`` -> the service kind), if registered."""
    return _BY_NAME.get(resource.split("/", 1)[0])


def kind_named(name: str) -> ResourceKind:
    """The registered kind called ``name``."""
    return _BY_NAME[name]


def stages() -> list[list[ResourceKind]]:
    """Kinds grouped by collection stage, in order."""
    return [
        [kind for kind in KINDS if kind.stage == stage]
        for stage in sorted({kind.stage for kind in KINDS})
    ]
