"""The Cloud SQL Admin REST API (``sqladmin/v1``), read through an authorized session.

google-cloud-sql ships ``SqlInstancesServiceClient`` with gRPC transports only (no ``rest``), so
it can neither honour an HTTP endpoint override nor share the REST clients' deadline handling.
This client calls the one read driftcheck needs, ``GET /v1/projects/{project}/instances``, with
the same credentials through google-auth's ``AuthorizedSession``, turns HTTP errors into the
google-api-core exceptions every other client raises (so retries and failure records are the
same), and parses each instance into google-cloud-sql's own ``DatabaseInstance`` type. It never
calls the users, SSL-certificate or password methods.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass
class InstancesPage:
    """One page of ``instances.list``: parsed instances and the next page token."""

    items: list[Any]
    next_page_token: str = ""


@dataclass
class InstancesPager:
    """Pages of ``instances.list``; the first is read by the call, the others on iteration."""

    first: InstancesPage
    fetch: Any

    @property
    def pages(self) -> Iterator[InstancesPage]:
        page = self.first
        yield page
        while page.next_page_token:
            page = self.fetch(page.next_page_token)
            yield page


@dataclass
class _Transport:
    """Shaped like a generated client's REST transport, so ``clients._tune_session`` bounds its
    session's exchanges the same way."""

    _session: Any


class SqlAdminRest:
    """``instances.list`` of the Cloud SQL Admin API over REST."""

    PAGE_SIZE = 100

    def __init__(self, endpoint: str, credentials: Any) -> None:
        from google.auth.transport.requests import AuthorizedSession

        self._endpoint = endpoint.rstrip("/")
        self._transport = _Transport(AuthorizedSession(credentials))

    def list_instances(self, *, request: dict[str, str], retry: Any, timeout: float) -> Any:
        """The instances of ``request["project"]``, page by page (each page retried)."""
        project = request["project"]

        def fetch(token: str) -> InstancesPage:
            return retry(self._page)(project, token, timeout)

        return InstancesPager(first=fetch(""), fetch=fetch)

    def _page(self, project: str, token: str, timeout: float) -> InstancesPage:
        from google.api_core import exceptions as core
        from google.cloud import sqladmin_v1

        params: dict[str, Any] = {"maxResults": self.PAGE_SIZE}
        if token:
            params["pageToken"] = token
        url = f"{self._endpoint}/v1/projects/{quote(project, safe='')}/instances"
        response = self._transport._session.request("GET", url, params=params, timeout=timeout)
        if response.status_code >= 400:
            raise core.from_http_response(response)
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError("instances.list answered something other than an object")
        items = [
            sqladmin_v1.DatabaseInstance.from_json(json.dumps(item), ignore_unknown_fields=True)
            for item in body.get("items") or []
        ]
        return InstancesPage(items=items, next_page_token=str(body.get("nextPageToken") or ""))
