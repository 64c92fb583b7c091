"""What a resource kind declares: how it is read, how its bodies are judged, and why.

A kind is one folder (``driftcheck/kinds/<kind>/``) and one line in the registry
(``driftcheck/kinds/__init__.py``). The core — collection, comparison, merging, rendering — only
knows kinds through the :class:`ResourceKind` they declare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from driftcheck.catalogue import CatalogueRule, CauseRule, ViolationAdvice

if TYPE_CHECKING:
    from driftcheck.collectors.interface import CollectionContext, CollectorResult
    from driftcheck.config import Environment, LoadedConfig
    from driftcheck.kinds.fields import FieldTable
    from driftcheck.model import CollectionErrorRecord, Finding, Snapshot


class EarlyReads(Protocol):
    """What a kind starts reading while earlier stages are still reading (see
    ``ResourceKind.early``)."""

    def observe(self, key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
        """A resource of an earlier stage, as normalized (``literals``: the real spelling of the
        neutral names it holds)."""


# Told of a resource as soon as it is normalized: its key, its body, and the real spelling of
# the neutral names it holds.
Observe = Callable[[str, Mapping[str, Any], Mapping[str, str]], None]


def _nobody(key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
    """Nobody is told."""


@dataclass(frozen=True)
class CollectRequest:
    """What a kind's collector is asked to read: one environment, and what the kinds of earlier
    stages already read there (the secrets a service references, the connector it uses).

    A collector tells ``observe`` of each resource as soon as it is normalized; ``early`` holds
    what kinds of later stages started from that, by kind name."""

    config: LoadedConfig
    env_name: str
    env: Environment
    upstream: CollectorResult
    observe: Observe = _nobody
    early: Mapping[str, EarlyReads] = field(default_factory=dict)


Collect = Callable[["CollectionContext", CollectRequest], "CollectorResult"]
FindViolations = Callable[[str, str, dict[str, Any]], Iterable["Finding"]]
FindGaps = Callable[["Snapshot"], list["CollectionErrorRecord"]]


@dataclass(frozen=True)
class ResourceKind:
    """One kind of resource: its snapshot keys are ``<name>/…``.

    ``stage`` orders collection: kinds of stage 0 read the project on their own; a kind of a later
    stage reads what earlier ones refer to (secrets referenced by services). Kinds of one stage
    are read at the same time.

    Paths (globs over a body's dotted paths) say what comparison leaves alone:
    ``runner_observations`` are held by the runner, not the estate (a test suite's key), so a
    baseline never keeps them; ``judged_elsewhere`` are judged by the kind's violations instead
    of by comparison; ``cross_environment_skipped`` legitimately differ between environments;
    ``cross_environment_pinned`` are version numbers that may differ when both sides pin one.
    """

    name: str
    stage: int
    collect: Collect
    normalize: Callable[..., dict[str, Any]]
    catalogue: tuple[CatalogueRule, ...]
    violation_advice: tuple[ViolationAdvice, ...] = ()
    causes: tuple[CauseRule, ...] = ()
    find_violations: FindViolations | None = None
    find_gaps: FindGaps | None = None
    runner_observations: tuple[str, ...] = ()
    judged_elsewhere: tuple[str, ...] = ()
    cross_environment_skipped: tuple[str, ...] = ()
    cross_environment_pinned: tuple[str, ...] = ()
    fields: FieldTable | None = None
    # Keys carry a region (``<kind>/<region alias>/<name>``).
    regional: bool = False
    # Its values are secrets of its own environment: their fingerprints legitimately differ
    # across environments and are compared there only when declared shared.
    holds_secret_values: bool = False
    # Reads it starts per environment while earlier stages are still reading: from what they
    # read (a secret as soon as a service references it), or from nothing (a dependency's
    # listings, as the environment's reading starts); its collect takes them over.
    early: Callable[[CollectionContext, Environment], EarlyReads] | None = None

    @property
    def resources(self) -> str:
        """The glob of this kind's snapshot keys."""
        return f"{self.name}/*"
