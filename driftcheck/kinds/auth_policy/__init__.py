"""Auth claim policies (``auth-policy/<name>``): what a token needs, what OIDC publishes, and
whether the tokens the runner holds pass."""

from __future__ import annotations

from driftcheck.kinds.auth_policy import catalogue
from driftcheck.kinds.auth_policy.collect import collect_auth_policy
from driftcheck.kinds.auth_policy.normalize import normalize_auth_policy
from driftcheck.kinds.auth_policy.violations import auth_violations
from driftcheck.kinds.interface import ResourceKind

AUTH_POLICY = ResourceKind(
    name="auth-policy",
    stage=1,
    collect=collect_auth_policy,
    normalize=normalize_auth_policy,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=auth_violations,
    # The runner's own tokens are judged where they are read, never approved in a baseline.
    runner_observations=("tokens",),
    judged_elsewhere=("tokens*",),
)
