"""Secret Manager secrets (``secret/<name>``, or ``secret/<project>/<name>`` for another
project's): read because a workload references them or the config lists them."""

from __future__ import annotations

from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.secret import catalogue
from driftcheck.kinds.secret.collect import EarlySecretReads, collect_secrets
from driftcheck.kinds.secret.normalize import normalize_secret
from driftcheck.kinds.secret.violations import secret_violations, unverifiable_consumers

SECRET = ResourceKind(
    name="secret",
    stage=1,
    holds_secret_values=True,
    collect=collect_secrets,
    early=EarlySecretReads,
    normalize=normalize_secret,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=secret_violations,
    find_gaps=unverifiable_consumers,
    # What a consumer (the E2E suite) holds is judged where it is read, never approved.
    runner_observations=("consumers",),
    # A reference's version state is judged by violations (one finding, not two).
    judged_elsewhere=("consumers*", "references.*.state"),
    # Version numbers legitimately differ between environments; whether pinned does not.
    cross_environment_skipped=(
        "versions*",
        "latest.version",
        "references.*.requested",
        "references.*.resolved",
    ),
)
