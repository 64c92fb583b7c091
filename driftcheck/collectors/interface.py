"""What every collector shares: its result type and the translation of API failures.

A collector never lets an SDK exception escape. A transient failure is retried within a bounded
total time (``retry_policy``); what still fails becomes a :class:`CollectionErrorRecord`, so the
run ends *incomplete* instead of crashing or, worse, reporting a partial read as clean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from driftcheck.concurrency import (
    Background,
    RateLimiter,
    Slots,
    Workers,
    calls_through,
    leave_intake,
)
from driftcheck.config import ApiSettings
from driftcheck.fingerprint import Fingerprinter
from driftcheck.model import CollectionErrorRecord

if TYPE_CHECKING:
    from driftcheck.clients import ApiClients

T = TypeVar("T")
_MAX_MESSAGE = 300
_REQUEST_PREFIX = re.compile(r"^[A-Z]+ https?://\S+: ")


@dataclass
class CollectorResult:
    """Resources read (keyed as in the snapshot) and the errors met on the way."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[CollectionErrorRecord] = field(default_factory=list)
    # How names kept in neutral form were really spelt (a secret is read by its real name).
    literals: dict[str, str] = field(default_factory=dict)
    project_number: str | None = None
    context: dict[str, dict[str, str]] = field(default_factory=dict)

    def merge(self, other: CollectorResult) -> None:
        """Add another result's resources and errors to this one."""
        self.resources.update(other.resources)
        self.errors.extend(other.errors)
        self.literals.update(other.literals)
        self.context.update(other.context)
        self.project_number = self.project_number or other.project_number


@dataclass
class CollectionContext:
    """What collecting needs: API clients, the fingerprint key, and the worker pool."""

    clients: ApiClients
    fingerprints: Fingerprinter
    workers: Workers
    settings: ApiSettings
    access_payloads: bool = True


class Prefetch(Generic[T]):
    """What a kind of a later stage can read while the earlier stages are read, because it
    needs nothing they read (a dependency kind's listings; the join to the workloads waits for
    them): read on a thread of its own, client library import included, and taken over by the
    kind's collect (see ``ResourceKind.early``). It starts once the run waits on the API, or
    when the kind asks for it (see :class:`Background`): the import is CPU work that the
    listings' pages would otherwise wait on. ``read`` None: nothing to read."""

    def __init__(self, read: Callable[[], T] | None, slots: Slots) -> None:
        self._reading = Background(read, slots) if read is not None else None

    def observe(self, key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
        """Nothing to start from a resource of an earlier stage."""

    def result(self) -> T | None:
        """What was read (None when there was nothing to read); waits for it, starting it if
        it had not started. The reader records API failures itself and ends within its calls'
        deadlines."""
        return self._reading.result() if self._reading is not None else None


def prefetched(early: object) -> Any:
    """What a kind's :class:`Prefetch` read, or None when there is none (a collect called on
    its own reads for itself)."""
    return early.result() if isinstance(early, Prefetch) else None


def retry_policy(settings: ApiSettings) -> Any:
    """google-api-core Retry covering 429, 500, 503, deadline and connection failures.

    The SDK's default retry does not cover 429 (quota) or a refused connection; this one does,
    with exponential backoff and a total time of ``settings.retry_seconds``.
    """
    import requests
    from google.api_core import exceptions as core
    from google.api_core import retry

    transient = retry.if_exception_type(
        core.TooManyRequests,
        core.ServiceUnavailable,
        core.InternalServerError,
        core.DeadlineExceeded,
        core.GatewayTimeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
    )
    return retry.Retry(
        predicate=transient,
        initial=0.2,
        maximum=min(10.0, max(settings.retry_seconds / 4, 0.2)),
        multiplier=2.0,
        timeout=settings.retry_seconds,
        # A listing's page that failed is not read: the next listing's page is, while this
        # call waits to retry.
        on_error=lambda _exc: leave_intake(),
    )


def describe_api_failure(exc: BaseException) -> str:
    """One short line for an API failure, without echoing request or response bodies."""
    import requests
    from google.api_core import exceptions as core

    if isinstance(exc, core.RetryError):
        cause = exc.cause
        inner = describe_api_failure(cause) if cause is not None else "transient errors"
        return f"gave up after retrying: {inner}"
    if isinstance(exc, core.GoogleAPICallError):
        status = _status_name(exc)
        code = f"{exc.code or ''} {status}".strip() or type(exc).__name__
        # The REST transport prefixes "GET <url>: "; the resource is named elsewhere.
        message = _REQUEST_PREFIX.sub("", exc.message or "")
        return _clip(f"{code}: {message}" if message else code)
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out waiting for the API"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect to the API endpoint"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"HTTP failure: {type(exc).__name__}"
    if isinstance(exc, PaginationLoop):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "unreadable API response: nested too deeply"
    return f"unreadable API response: {type(exc).__name__}"


def _status_name(exc: Any) -> str:
    """Google's status name (PERMISSION_DENIED…) from the exception or its JSON error body."""
    if exc.grpc_status_code is not None:
        return str(exc.grpc_status_code.name)
    response = getattr(exc, "response", None)
    try:
        status = response.json()["error"]["status"] if response is not None else ""
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return ""
    return status if isinstance(status, str) and status.isidentifier() else ""


def _clip(text: str) -> str:
    # Scrubbed before it is clipped: a clipped secret would no longer look like one.
    from driftcheck.sensitive import scrub

    text = scrub(" ".join(text.split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def api_failures() -> tuple[type[BaseException], ...]:
    """Exceptions a google-cloud REST call can raise for a failed or garbled exchange."""
    import requests
    from google.api_core import exceptions as core
    from google.protobuf import json_format

    return (
        core.GoogleAPIError,
        requests.exceptions.RequestException,
        json_format.ParseError,
        ValueError,
        RecursionError,  # a pathologically nested body: unreadable, never a crash
    )


MAX_PAGES = 2_000
MAX_EMPTY_PAGES = 3  # in a row, each with a next page token: a listing that never ends


class PaginationLoop(ValueError):
    """The API keeps answering with a page token it gave before, or never stops paging."""


def pages(
    pager: Any, limiter: RateLimiter | None = None, slots: Slots | None = None
) -> Iterator[Any]:
    """The pages of a google-api-core pager; each further page is fetched under ``limiter`` and
    one of ``slots``, taken ahead of calls that are not a listing's (the page brings more of
    them). A repeated page token or more than MAX_PAGES pages end the listing with
    :class:`PaginationLoop` instead of looping forever."""
    seen: set[str] = set()
    empty = 0
    iterator = iter(pager.pages)
    for count in range(MAX_PAGES + 1):
        if count and limiter is not None and slots is not None:
            with calls_through(slots, limiter, urgent=True):
                page = next(iterator, None)
        else:
            # (the first page came with the call that made the pager)
            page = next(iterator, None)
        if page is None:
            return
        token = str(getattr(page, "next_page_token", "") or "")
        if token and token in seen:
            raise PaginationLoop("pagination did not end: the API repeated a page token")
        seen.add(token)
        empty = 0 if any(True for _ in _items(page)) else empty + 1
        if token and empty >= MAX_EMPTY_PAGES:
            raise PaginationLoop(
                f"pagination did not end: {empty} empty pages in a row, each with a next page"
            )
        yield page
    raise PaginationLoop(f"pagination did not end after {MAX_PAGES} pages")


def _items(page: Any) -> Any:
    """The resources of a page, whatever the list field is called (services, versions…;
    ``instances`` of Memorystore, ``items`` of Cloud SQL)."""
    for name in (
        "services",
        "versions",
        "jobs",
        "worker_pools",
        "revisions",
        "secrets",
        "connectors",
        "instances",
        "items",
    ):
        items = getattr(page, name, None)
        if items is not None:
            return items
    return [page]


@dataclass(frozen=True)
class Permission:
    """The IAM permission a call needs, the predefined role that grants it, and any way out."""

    name: str
    role: str
    alternative: str = ""

    def hint(self) -> str:
        """What a 403 should tell the operator."""
        text = f"the principal lacks {self.name} (grant {self.role})"
        return f"{text}, {self.alternative}" if self.alternative else text


def guarded(
    call: Callable[[], T],
    *,
    source: str,
    resource: str,
    errors: list[CollectionErrorRecord],
    permission: Permission | None = None,
    path: str | None = None,
) -> T | None:
    """Run one API call; on failure record an error for ``resource`` and return None."""
    try:
        return call()
    except api_failures() as exc:
        errors.append(failure_record(source, resource, exc, permission, path))
        return None


def failure_record(
    source: str,
    resource: str,
    exc: BaseException,
    permission: Permission | None = None,
    path: str | None = None,
) -> CollectionErrorRecord:
    """The collection error recorded for a failed call; a 403 names what is missing."""
    from google.api_core import exceptions as core

    message = describe_api_failure(exc)
    # REST answers 403 as Forbidden, gRPC as PermissionDenied: the same missing grant.
    if permission is not None and isinstance(exc, core.PermissionDenied | core.Forbidden):
        message = _clip(f"{permission.hint()}: {message}")
    return CollectionErrorRecord(source=source, resource=resource, path=path, message=message)


class ApiCollector:
    """Plumbing shared by the Google API collectors: a client, the bounded retry policy, the
    fingerprint key and the worker pool with its rate limits."""

    def __init__(
        self, client: Any, settings: ApiSettings, fingerprints: Fingerprinter, workers: Workers
    ) -> None:
        self._client = client
        self._settings = settings
        self._retry = retry_policy(settings)
        self._fingerprints = fingerprints
        self._workers = workers

    @property
    def fingerprints(self) -> Fingerprinter:
        """The fingerprint key: a further read made on the collector's behalf redacts with it."""
        return self._fingerprints

    def call(
        self, limiter: RateLimiter, method: Callable[..., Any], urgent: bool = False, **kwargs: Any
    ) -> Any:
        """One API call with retry and timeout; each exchange it makes takes one of the pool's
        slots (``urgent``: ahead of the queue, for the first page of a listing) and the rate
        limiter as it goes out (see ``calls_through``)."""
        with calls_through(self._workers.slots, limiter, urgent):
            return method(**kwargs, retry=self._retry, timeout=self._settings.timeout_seconds)
