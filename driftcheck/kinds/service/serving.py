"""What actually serves: the revisions that receive a service's traffic, which may not be its
template.

When a deploy fails, the template shows the new configuration while traffic still goes to the
last ready revision; when traffic is pinned or split, revisions other than the template serve
too. Each serving revision that is not the template is read (one ``get_revision``; none when all
traffic goes to a latest revision that is the template), and kept by what it means and what it
runs, never by its name (revision names differ in every environment).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from driftcheck.collectors.interface import Permission, guarded
from driftcheck.kinds.cloud_run.unknown import capturing, merge_unknown, redact_by_name
from driftcheck.protodict import message_dict
from driftcheck.sensitive import Redactor

if TYPE_CHECKING:
    from driftcheck.concurrency import RateLimiter
    from driftcheck.kinds.cloud_run.collect import CloudRunCollector
    from driftcheck.model import CollectionErrorRecord

REVISION_PERMISSION = Permission("run.revisions.get", "roles/run.viewer")
SOURCE = "run.googleapis.com"
CURRENT = "current"  # the revision serving is the service's template
# The fields of a Revision that describe the revision rather than configure it: everything else
# (fields the client does not know included) is what it runs.
REVISION_ONLY = frozenset(
    {
        "name",
        "uid",
        "generation",
        "labels",
        "annotations",
        "create_time",
        "update_time",
        "delete_time",
        "expire_time",
        "launch_stage",
        "service",
        "reconciling",
        "conditions",
        "observed_generation",
        "log_uri",
        "satisfies_pzs",
        "scaling_status",
        "creator",
        "etag",
    }
)


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def serving_shares(service: Any) -> dict[str, int]:
    """Revision (short name) -> percent of traffic it receives, from the traffic statuses (what
    Cloud Run reports as applied); all to the latest ready revision when none are reported."""
    ready = _short(service.latest_ready_revision)
    shares: dict[str, int] = {}
    for status in service.traffic_statuses:
        latest = status.type_.name.endswith("_LATEST")
        revision = _short(status.revision) or (ready if latest else "")
        if revision and status.percent > 0:
            shares[revision] = shares.get(revision, 0) + int(status.percent)
    if not service.traffic_statuses and ready:
        shares[ready] = 100
    return shares


def tagged_revisions(service: Any) -> dict[str, list[str]]:
    """Fixed revisions reached through a tag's own URL (``https://<tag>---…``), with their tags:
    they answer whoever calls that URL, whatever share of traffic they get."""
    tagged: dict[str, list[str]] = {}
    for status in service.traffic_statuses:
        revision = _short(status.revision)
        if status.tag and revision and not status.type_.name.endswith("_LATEST"):
            tagged.setdefault(revision, []).append(status.tag)
    return {revision: sorted(tags) for revision, tags in tagged.items()}


def read_serving(
    revisions_client: Any,
    collector: CloudRunCollector,
    limiter: RateLimiter,
    key: str,
    service: Any,
    errors: list[CollectionErrorRecord],
) -> dict[str, Any]:
    """The serving revisions of ``service`` (raw), and whether its latest deploy is serving."""
    ready = _short(service.latest_ready_revision)
    created = _short(service.latest_created_revision)
    template_serves = bool(created) and created == ready
    serving: dict[str, Any] = {}
    shares, tagged = serving_shares(service), tagged_revisions(service)
    for revision in sorted({*shares, *tagged}):
        entry: dict[str, Any] = {
            "percent": shares.get(revision, 0),
            "latest": revision == ready,
            "tags": tagged.get(revision, []),
        }
        if template_serves and revision == created:
            serving[revision] = {**entry, "template": CURRENT}
            continue
        name = f"{service.name}/revisions/{revision}"
        read = guarded(
            partial(_get_revision, revisions_client, collector, limiter, name),
            source=SOURCE,
            resource=key,
            errors=errors,
            permission=REVISION_PERMISSION,
            path=f"serving.{revision}",
        )
        if read is not None:
            serving[revision] = {**entry, "revision": read}
    extra: dict[str, Any] = {"_serving": serving}
    if created and not template_serves and not service.reconciling:
        # While Cloud Run is still rolling the revision out, it is not (yet) a failed deploy.
        extra["_deploy"] = {"latest_created": created, "latest_ready": ready or None}
    return extra


def _get_revision(
    client: Any, collector: CloudRunCollector, limiter: RateLimiter, name: str
) -> dict[str, Any]:
    """One revision, with the fields the client does not know kept from its JSON."""
    with capturing() as captured:
        revision = collector.call(limiter, client.get_revision, request={"name": name})
    raw: dict[str, Any] = message_dict(revision)
    if captured:
        try:
            sent = json.loads(captured[-1])
        except ValueError:
            sent = {}
        if isinstance(sent, dict):
            added = merge_unknown(raw, sent, type(revision).pb().DESCRIPTOR)
            redact_by_name(raw, added, Redactor(collector.fingerprints))
    return raw


def normalize_serving(
    serving: Mapping[str, Any], template: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Serving revisions by meaning, never by name: ``latest``; ``tag:<tag>`` for a fixed revision
    reached only through its tag; ``pinned:current`` for a pinned revision that is the template;
    other pinned ones ``pinned``, ``pinned-2`` … oldest first
    (revision names grow with each deploy). Each has its share of traffic and what it runs
    (``current``: the service's template; otherwise the revision's configuration in canonical
    form, through ``template``), which comparison then judges like any template."""
    result: dict[str, dict[str, Any]] = {}
    older = 0
    for _name, entry in sorted(serving.items()):
        runs: Any = entry.get("template", CURRENT)
        if "revision" in entry:
            revision = entry["revision"]
            runs = template({k: v for k, v in revision.items() if k not in REVISION_ONLY})
        if entry.get("latest"):
            key = "latest"
        elif not entry.get("percent") and entry.get("tags"):
            # Reached only through its tag's URL: known by the tag.
            key = f"tag:{entry['tags'][0]}"
        elif runs == CURRENT:
            key = f"pinned:{CURRENT}"
        else:
            older += 1
            key = "pinned" if older == 1 else f"pinned-{older}"
        slot = result.setdefault(key, {"percent": 0, "runs": runs})
        slot["percent"] += int(entry.get("percent") or 0)
    return result
