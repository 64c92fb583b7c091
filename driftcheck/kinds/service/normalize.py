"""A Cloud Run service in canonical form: the service's own settings, its revision template (see
``kinds.cloud_run.normalize``), its traffic by what each target means, and its IAM policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.cloud_run.normalize import nonzero, normalize_iam_policy, normalize_template
from driftcheck.kinds.service.serving import normalize_serving
from driftcheck.normalize import Literals, canonical, prune
from driftcheck.sensitive import Redactor

SERVICE_DEFAULTS: dict[str, Any] = {
    "ingress": "ingress_traffic_all",
    "launch_stage": "ga",
    "invoker_iam_disabled": False,
    "default_uri_disabled": False,
}


DEFAULT_TRAFFIC = {"latest": {"percent": 100}}


def normalize_traffic(traffic: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Traffic by what each target means, never by revision names (which differ in every
    environment): the latest revision, pinned revisions (percentages summed), and each tag with
    what it points at (a tag moved from a fixed revision to the latest is a difference)."""
    result: dict[str, dict[str, Any]] = {}
    for target in traffic:
        kind = str(target.get("type_") or target.get("type") or "")
        pinned = bool(target.get("revision")) or kind.endswith("_REVISION")
        meaning = "pinned" if pinned else "latest"
        percent = int(target.get("percent") or 0)
        if target.get("tag"):
            result[f"tag:{target['tag']}"] = {"target": meaning, "percent": percent}
        if percent or not target.get("tag"):
            entry = result.setdefault(meaning, {"percent": 0})
            entry["percent"] += percent
    return result


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
    serving, deploy = body.pop("_serving", None), body.pop("_deploy", None)
    if isinstance(body.get("build_config"), dict):
        body["build_config"] = {k: v for k, v in body["build_config"].items() if k != "name"}
    template = service.get("template")
    body["template"] = normalize_template(dict(template or {}), fingerprints, neutral, literals)
    traffic = service.get("traffic")
    if isinstance(traffic, list) and traffic:
        body["traffic"] = normalize_traffic(traffic)
    if iam_policy is not None:
        body["iam"] = normalize_iam_policy(iam_policy, neutral)
    if serving is not None:

        def runs(revision: dict[str, Any]) -> dict[str, Any]:
            template = normalize_template(revision, fingerprints, neutral, literals)
            return dict(prune(canonical(template, neutral, redactor=Redactor(fingerprints))))

        body["serving"] = normalize_serving(serving, runs)
    if deploy:
        body["deploy"] = deploy
    result: dict[str, Any] = prune(canonical(body, neutral, redactor=Redactor(fingerprints)))
    # An unspecified enum is pruned as unset: the default it stands for is written instead.
    for key, default in SERVICE_DEFAULTS.items():
        result.setdefault(key, default)
    result.setdefault("traffic", dict(DEFAULT_TRAFFIC))
    # Cloud Run scales a service automatically unless told otherwise.
    result["scaling"] = {"scaling_mode": "automatic", **(result.get("scaling") or {})}
    return result
