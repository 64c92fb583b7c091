"""The regions where Cloud Run is offered to a project, read from the Cloud Run Admin API v1.

``run_v2.ServicesClient`` has no ``list_locations``; the v1 REST method
``GET v1/projects/{project}/locations`` (``ListLocationsResponse``: ``locations[].locationId``,
``nextPageToken``) answers it. It is called through the client's own authorized REST session
and host, so credentials, the emulator endpoint, the connection pool and the per-exchange
deadline (see ``clients`` and ``deadlines``) are the ones every other Cloud Run call uses.
"""

from __future__ import annotations

import re
from typing import Any

from driftcheck.collectors.interface import (
    MAX_EMPTY_PAGES,
    MAX_PAGES,
    Permission,
    api_failures,
    describe_api_failure,
    failure_record,
    retry_policy,
)
from driftcheck.config import REGION_PATTERN, ApiSettings
from driftcheck.errors import CollectionError

SOURCE = "run.googleapis.com"
LOCATIONS_PERMISSION = Permission("run.locations.list", "roles/run.viewer")
PAGE_SIZE = 100


def list_run_regions(
    run_client: Any, project: str, settings: ApiSettings | None = None
) -> list[str]:
    """Every region (``locationId``) where Cloud Run is offered to ``project``, sorted.

    ``run_client`` is the REST ``run_v2.ServicesClient`` built by :func:`clients.build_clients`.
    Pages are followed to the end; each page goes through the bounded retry of
    ``settings`` (default :class:`ApiSettings`). Raises :class:`CollectionError` (exit 3) naming
    what failed, never echoing a response body.
    """
    settings = settings or ApiSettings()
    transport = run_client._transport  # the v2 client offers no public way to reach v1
    session, host = transport._session, str(transport._host).rstrip("/")
    resource = f"projects/{project}/locations"
    regions: set[str] = set()
    seen_tokens: set[str] = set()
    token = ""
    empty_pages = 0
    fetch = retry_policy(settings)(_fetch_page)
    for _page in range(MAX_PAGES):
        try:
            body = fetch(session, f"{host}/v1/{resource}", token, settings.timeout_seconds)
        except read_failures() as exc:
            record = failure_record(SOURCE, resource, exc, LOCATIONS_PERMISSION)
            raise CollectionError(record.message, source=SOURCE, resource=resource) from None
        page_regions = _location_ids(body, resource)
        regions.update(page_regions)
        token = str(body.get("nextPageToken") or "")
        if not token:
            return sorted(regions)
        empty_pages = 0 if page_regions else empty_pages + 1
        if token in seen_tokens or empty_pages >= MAX_EMPTY_PAGES:
            raise CollectionError(
                "pagination did not end: a repeated page token or empty pages without end",
                source=SOURCE,
                resource=resource,
            )
        seen_tokens.add(token)
    raise CollectionError(
        f"pagination did not end after {MAX_PAGES} pages", source=SOURCE, resource=resource
    )


def read_failures() -> tuple[type[BaseException], ...]:
    """What a REST read can raise for a failed exchange: the SDK's failures, and an answer
    past the byte budget (an OSError from ``deadlines``)."""
    return (*api_failures(), OSError)


def _fetch_page(session: Any, url: str, token: str, timeout: float) -> dict[str, Any]:
    """One page; an HTTP error becomes google-api-core's exception of its status, so the retry
    policy and :func:`describe_api_failure` treat it like any SDK call's."""
    from google.api_core import exceptions as core

    params = {"pageSize": str(PAGE_SIZE)}
    if token:
        params["pageToken"] = token
    response = session.get(url, params=params, timeout=timeout)
    if response.status_code >= 400:
        raise core.from_http_response(response)
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("not a ListLocationsResponse")
    return body


def _location_ids(body: dict[str, Any], resource: str) -> list[str]:
    locations = body.get("locations") or []
    if not isinstance(locations, list):
        raise CollectionError(
            describe_api_failure(ValueError("locations is not a list")),
            source=SOURCE,
            resource=resource,
        )
    ids = []
    for location in locations:
        location_id = location.get("locationId") if isinstance(location, dict) else None
        if isinstance(location_id, str) and location_id:
            if not _REGION.match(location_id):
                # It would become a path in every further URL and a part of every key.
                raise CollectionError(
                    f"the listing names {location_id[:64]!r}, which is no region name",
                    source=SOURCE,
                    resource=resource,
                )
            ids.append(location_id)
    return ids


_REGION = re.compile(REGION_PATTERN)
