"""A Cloud Run service in canonical form: the service's own settings, its revision template (see
``kinds.cloud_run.normalize``), its traffic by what each target means, and its IAM policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.cloud_run.normalize import nonzero, normalize_iam_policy, normalize_template
from driftcheck.normalize import Literals, canonical, prune
from driftcheck.sensitive import Redactor

SERVICE_DEFAULTS: dict[str, Any] = {
    "ingress": "ingress_traffic_all",
    "launch_stage": "ga",
    "invoker_iam_disabled": False,
    "default_uri_disabled": False,
}


DEFAULT_TRAFFIC = {"latest": {"percent": 100}}


def _traffic_key(target: dict[str, Any]) -> str:
    if target.get("tag"):
        return f"tag:{target['tag']}"
    if target.get("revision"):
        return f"revision:{target['revision']}"
    return str(target.get("type") or "latest").lower()


def normalize_service(
    service: Mapping[str, Any],
    iam_policy: Mapping[str, Any] | None,
    neutral: Neutralizer,
    fingerprints: Fingerprinter,
    literals: Literals = None,
) -> dict[str, Any]:
    """One Cloud Run service (``Service.to_dict`` form) -> its canonical snapshot body.

    ``literals`` (when given) collects how each secret reference was spelt, by neutral form.
    """
    # The name becomes the resource key; a template's revision name changes on every deploy.
    body: dict[str, Any] = {**SERVICE_DEFAULTS, **nonzero(dict(service))}
    body.pop("name", None)
    template = service.get("template")
    body["template"] = normalize_template(dict(template or {}), fingerprints, neutral, literals)
    traffic = service.get("traffic")
    if isinstance(traffic, list):
        body["traffic"] = {_traffic_key(t): {"percent": t.get("percent", 0)} for t in traffic}
    if iam_policy is not None:
        body["iam"] = normalize_iam_policy(iam_policy, neutral)
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=Redactor(fingerprints)))
    # An unspecified enum is pruned as unset: the default it stands for is written instead.
    for key, default in SERVICE_DEFAULTS.items():
        result.setdefault(key, default)
    result.setdefault("traffic", dict(DEFAULT_TRAFFIC))
    return result
