"""Secret Manager through google-cloud-secret-manager's ``SecretManagerServiceClient``.

Per secret (each read once per run, however many services reference it): its metadata
(replication, rotation, expiry, labels, annotations), its versions and their states, what every
reference resolves to, and a keyed fingerprint of the payload of each resolved version. The
payload is reduced to the fingerprint at once and never kept, logged or put in a message.

The metadata of the environment's own secrets comes from one listing of the project's secrets
(a page holds up to 25,000), not one read per secret: Secret Manager's metadata quota is shared
with every other reader of the project. A principal that may not list secrets gets them one by
one as before; a secret of another project (a central secrets project) is always read alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from driftcheck.collectors.interface import (
    ApiCollector,
    CollectionContext,
    CollectorResult,
    Permission,
    api_failures,
    failure_record,
    guarded,
    pages,
)
from driftcheck.concurrency import DaemonPool, Workers
from driftcheck.config import ApiSettings, Environment
from driftcheck.fingerprint import Fingerprinter
from driftcheck.identity import Neutralizer
from driftcheck.kinds.interface import CollectRequest
from driftcheck.kinds.secret.normalize import normalize_secret
from driftcheck.model import CollectionErrorRecord
from driftcheck.normalize import prune, secret_reference, split_secret_reference
from driftcheck.protodict import message_dict

SOURCE = "secretmanager.googleapis.com"
GET_PERMISSION = Permission("secretmanager.secrets.get", "roles/secretmanager.viewer")
LIST_SECRETS_PERMISSION = Permission(
    "secretmanager.secrets.list",
    "roles/secretmanager.viewer",
    "or driftcheck reads each secret's metadata alone (one call per secret)",
)
LIST_PAGE_SIZE = 25_000  # Secret Manager's largest page
LIST_PERMISSION = Permission("secretmanager.versions.list", "roles/secretmanager.viewer")
ACCESS_PERMISSION = Permission(
    "secretmanager.versions.access",
    "roles/secretmanager.secretAccessor",
    "or run with --no-secret-payloads (fingerprints are then not compared)",
)
UNAVAILABLE = {"unavailable": True, "reason": "payload access disabled (--no-secret-payloads)"}
# A payload whose access failed: the failure is a collection error of its own.
UNREADABLE = {"unavailable": True, "reason": "payload could not be read", "failed": True}


@dataclass(frozen=True)
class SecretReference:
    """One place that uses a secret: ``where`` (env-neutral) and the version it asks for."""

    where: str
    version: str


Outcome = tuple[Any, BaseException | None]  # a call's result, or why it failed


@dataclass
class SecretReads:
    """The reads of one secret, started as soon as its name was known (see
    :class:`EarlySecretReads`): its metadata (``listed``: from the project's listing), its
    versions with what listing them failed on, and its latest payload when one is wanted."""

    metadata: Future[Any]
    listed: bool
    versions: Future[tuple[list[Any] | None, list[CollectionErrorRecord]]]
    latest: Future[Outcome] | None


@dataclass
class SecretPlan:
    """Which secrets to read in an environment, and who references them."""

    references: dict[str, list[SecretReference]] = field(default_factory=dict)
    consumers: dict[str, list[str]] = field(default_factory=dict)

    configured: set[str] = field(default_factory=set)

    @property
    def names(self) -> list[str]:
        """Every secret to read (a bare name, or a path into another project), each once."""
        return sorted(set(self.references) | set(self.consumers))


def secret_key(reference: str, neutral: Callable[[str], str]) -> str:
    """``secret/<neutral name>`` for the environment's own secrets; ``secret/<project>/<name>``
    as spelt for a secret of another project (a central secrets project), the same secret on
    every side."""
    project, name = split_secret_reference(reference)
    return f"secret/{neutral(name)}" if project is None else f"secret/{project}/{name}"


def neutralizer_of(env: Environment) -> Neutralizer:
    """The environment's neutralizer for global resources (no region)."""
    return Neutralizer(
        project=env.project, project_number=env.project_number, name_map=env.name_map
    )


def plan_secrets(
    resources: Mapping[str, Mapping[str, Any]],
    env: Environment,
    literals: Mapping[str, str] | None = None,
) -> SecretPlan:
    """Secrets that collected workloads (services, jobs, worker pools) reference, plus those the
    environment lists, each by the name it really has (references are stored in neutral form)."""
    plan = SecretPlan()
    neutral = neutralizer_of(env)
    for key, body in sorted(resources.items()):
        if isinstance(body.get("template"), dict):
            for where, name, version in _workload_references(body):
                literal = (literals or {}).get(name, name)
                plan.references.setdefault(literal, []).append(
                    SecretReference(where=f"{key}:{where}", version=version)
                )
    for spec in env.secrets:
        literal = secret_reference(spec.name, neutral)  # an own-project path is a bare name
        plan.references.setdefault(literal, [])
        plan.configured.add(literal)
        if spec.expect_env:
            plan.consumers.setdefault(literal, []).append(spec.expect_env)
    return plan


def _workload_references(body: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    template = body.get("template") or {}
    for container_name, container in sorted((template.get("containers") or {}).items()):
        for var, spec in sorted((container.get("env") or {}).items()):
            if isinstance(spec, dict) and "secret" in spec:
                yield (
                    f"containers.{container_name}.env.{var}",
                    str(spec["secret"]),
                    str(spec.get("version", "latest")),
                )
    for volume_name, volume in sorted((template.get("volumes") or {}).items()):
        secret = volume.get("secret") if isinstance(volume, dict) else None
        if not isinstance(secret, dict) or not secret.get("secret"):
            continue
        items = secret.get("items") or {"*": {"version": "latest"}}
        for path, item in sorted(items.items()):
            yield (
                f"volumes.{volume_name}.{path}",
                str(secret["secret"]),
                str(item.get("version", "latest")),
            )


class SecretManagerCollector(ApiCollector):
    """Reads the secrets of one environment and fingerprints the versions in use."""

    source = SOURCE

    def __init__(
        self,
        client: Any,
        settings: ApiSettings,
        fingerprints: Fingerprinter,
        workers: Workers,
        access_payloads: bool,
        start: Callable[[Callable[[], Any]], Future[Any]],
    ) -> None:
        super().__init__(client, settings, fingerprints, workers)
        self._access_payloads = access_payloads
        # Where one secret's reads run (a pool bounded by the cap, see EarlySecretReads).
        self._start = start
        self._listing: Future[tuple[dict[str, Any] | None, BaseException | None]] | None = None
        self._lock = threading.Lock()

    def _call(
        self, api: str, project: str, method: Callable[..., Any], **kwargs: Any
    ) -> Callable[[], Any]:
        """A deferred call under the (api, project) rate limiter."""
        return partial(self.call, self._workers.limits.limiter(api, project), method, **kwargs)

    def collect(
        self, env: Environment, plan: SecretPlan, early: Mapping[str, SecretReads] | None = None
    ) -> CollectorResult:
        """One ``secret/<name>`` resource per planned secret, read in parallel (reads started
        ``early`` are used, not made again)."""
        result = CollectorResult()
        neutral = neutralizer_of(env)
        progress = self._workers.progress.task(f"{env.project}: secrets", total=len(plan.names))

        def one(name: str) -> tuple[str, dict[str, Any] | None, list[CollectionErrorRecord]]:
            errors: list[CollectionErrorRecord] = []
            reads = (early or {}).get(name) or self.start_reads(
                env, name, _wants_latest(plan, name)
            )
            body = self._collect_secret(env, name, plan, neutral, errors, reads)
            progress.advance()
            return name, body, errors

        # Each body is put together on threads of this collect's own: on the shared pool it
        # would wait behind every call queued before it (in ``check --all``, every other
        # environment's IAM reads) though its own reads are long done. Its further calls
        # (pinned versions) still take slots of the shared cap.
        pool = DaemonPool(
            max(1, min(len(plan.names), self._workers.concurrency)), "driftcheck-join"
        )
        try:
            futures = [pool.submit(partial(one, name)) for name in plan.names]
        finally:
            pool.shutdown(wait=False)
        for future in futures:
            name, body, errors = future.result()
            result.errors.extend(errors)
            if body is None:
                continue
            key = secret_key(name, neutral)
            result.resources[key] = body
            if not body.get("exists") and name in plan.configured and not plan.references[name]:
                # Named in the config, used by nothing, absent: most likely a misspelt name.
                result.errors.append(
                    CollectionErrorRecord(
                        source=SOURCE,
                        resource=key,
                        message=f"configured secret {name} does not exist in "
                        f"{_project_of(name, env)}",
                    )
                )
        return result

    def _collect_secret(
        self,
        env: Environment,
        name: str,
        plan: SecretPlan,
        neutral: Neutralizer,
        errors: list[CollectionErrorRecord],
        reads: SecretReads,
    ) -> dict[str, Any] | None:
        from google.api_core import exceptions as core

        key = secret_key(name, neutral)
        project = _project_of(name, env)
        secret_path = f"projects/{project}/secrets/{split_secret_reference(name)[1]}"
        if reads.latest is None and self._access_payloads and _wants_latest(plan, name):
            reads.latest = self._read_latest(project, secret_path)  # a later reference wants it
        listed = reads.listed
        versions, listing_errors = reads.versions.result()
        latest_payload = reads.latest
        permission = GET_PERMISSION
        found, failure = reads.metadata.result()
        secret: Any = found
        if listed and isinstance(failure, core.PermissionDenied | core.Forbidden):
            # Not allowed to list: read alone, as if never listed.
            listed = False
            secret, failure = self._read_metadata(project, secret_path).result()
        if listed:
            # Absent from a listing that succeeded; a listing that failed says nothing of it.
            permission = LIST_SECRETS_PERMISSION
            secret = None if found is None else found.get(secret_path)
            absent = failure is None and secret is None
        else:
            absent = isinstance(failure, core.NotFound)
        # What the metadata read says comes first, as if it had been read alone.
        if absent:
            return {"exists": False, "references": _reference_map(plan, name, {}, None)}
        if failure is not None:
            if not isinstance(failure, api_failures()):
                raise failure
            errors.append(failure_record(SOURCE, key, failure, permission))
            return None
        errors.extend(listing_errors)
        if versions is None:
            return None
        states = {_version_number(v.name): v.state.name.lower() for v in versions}
        enabled = [number for number, state in states.items() if state == "enabled"]
        latest = max(enabled, key=int) if enabled else None
        resolved = {ref.version for ref in plan.references.get(name, [])}
        if plan.consumers.get(name) or not resolved:
            resolved.add("latest")
        prefetched: dict[str, Any] = {}
        if latest_payload is not None:
            response, _failure = latest_payload.result()
            if response is not None and latest == _version_number(response.name):
                prefetched[latest] = response  # else read again below, as if never prefetched
        fingerprints = self._fingerprint_versions(
            project, secret_path, resolved, states, latest, key, errors, prefetched
        )
        if fingerprints is None:
            return None
        raw = message_dict(secret)
        metadata = normalize_secret(raw, neutral, self._fingerprints)
        body = {
            **metadata,
            "exists": True,
            "versions": states,
            "latest": {
                "version": latest,
                "fingerprint": fingerprints.get(latest) if latest else None,
            },
            "references": _reference_map(plan, name, states, latest, fingerprints),
            "consumers": self._consumers(plan.consumers.get(name, [])),
        }
        return dict(prune(body))

    def _fingerprint_versions(
        self,
        project: str,
        secret_path: str,
        requested: set[str],
        states: dict[str, str],
        latest: str | None,
        key: str,
        errors: list[CollectionErrorRecord],
        prefetched: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """Fingerprint of each enabled version in use (a payload already read is not read
        again)."""
        numbers = {latest if version == "latest" else version for version in requested}
        result: dict[str, Any] = {}
        for number in sorted(n for n in numbers if n is not None and states.get(n) == "enabled"):
            if not self._access_payloads:
                result[number] = dict(UNAVAILABLE)
                continue
            if number in prefetched:
                result[number] = self._fingerprints.redacted(prefetched[number].payload.data)
                continue
            response = guarded(
                self._access_call(project, secret_path, number),
                source=SOURCE,
                resource=key,
                errors=errors,
                permission=ACCESS_PERMISSION,
                path=f"payloads.{number}",
            )
            if response is None:
                # The value is lost, not what else was read: versions and references still count.
                result[number] = dict(UNREADABLE)
                continue
            # Reduce the payload to its keyed fingerprint at once; nothing else keeps it.
            result[number] = self._fingerprints.redacted(response.payload.data)
        return result

    def start_reads(self, env: Environment, name: str, wants_latest: bool) -> SecretReads:
        """Start every read of the secret ``name`` where the collector runs reads; none waits
        for another, and every call still takes the rate limiter and a slot of the shared cap."""
        project = _project_of(name, env)
        secret_path = f"projects/{project}/secrets/{split_secret_reference(name)[1]}"
        key = secret_key(name, neutralizer_of(env))
        listed = split_secret_reference(name)[0] is None
        return SecretReads(
            metadata=self._project_listing(project)
            if listed
            else self._read_metadata(project, secret_path),
            listed=listed,
            versions=self._start(partial(self._list_versions, project, secret_path, key)),
            latest=(
                self._read_latest(project, secret_path)
                if self._access_payloads and wants_latest
                else None
            ),
        )

    def _project_listing(
        self, project: str
    ) -> Future[tuple[dict[str, Any] | None, BaseException | None]]:
        """The listing of the environment's own secrets, started once."""
        with self._lock:
            if self._listing is None:
                self._listing = self._start(partial(self._list_secrets, project))
            return self._listing

    def _list_versions(
        self, project: str, secret_path: str, key: str
    ) -> tuple[list[Any] | None, list[CollectionErrorRecord]]:
        limiter = self._workers.limits.limiter("secretmanager", project)
        listing = self._call(
            "secretmanager",
            project,
            self._client.list_secret_versions,
            request={"parent": secret_path},
        )
        errors: list[CollectionErrorRecord] = []
        versions = guarded(
            lambda: [
                v for page in pages(listing(), limiter, self._workers.slots) for v in page.versions
            ],
            source=SOURCE,
            resource=key,
            errors=errors,
            permission=LIST_PERMISSION,
        )
        return versions, errors

    def _read_latest(self, project: str, secret_path: str) -> Future[Outcome]:
        return self._start(partial(_outcome, self._access_call(project, secret_path, "latest")))

    def _read_metadata(
        self, project: str, secret_path: str
    ) -> Future[tuple[Any, BaseException | None]]:
        """One secret's metadata, read alone."""
        return self._start(
            partial(
                _outcome,
                self._call(
                    "secretmanager", project, self._client.get_secret, request={"name": secret_path}
                ),
            )
        )

    def _list_secrets(self, project: str) -> tuple[dict[str, Any] | None, BaseException | None]:
        """The metadata of every secret of ``project`` by name, or why it could not be listed."""
        limiter = self._workers.limits.limiter("secretmanager", project)
        parent = f"projects/{project}"

        def listing() -> dict[str, Any]:
            pager = self.call(
                limiter,
                self._client.list_secrets,
                urgent=True,  # every secret of the project waits on it
                request={"parent": parent, "page_size": LIST_PAGE_SIZE},
            )
            return {
                # Listed by project number or id: keyed the way secrets are read here.
                f"{parent}/secrets/{_version_number(secret.name)}": secret
                for page in pages(pager, limiter, self._workers.slots)
                for secret in page.secrets
            }

        found, failure = _outcome(listing)
        if failure is not None and not isinstance(failure, api_failures()):
            raise failure
        return found, failure

    def _access_call(self, project: str, secret_path: str, version: str) -> Callable[[], Any]:
        return self._call(
            "secretmanager_access",
            project,
            self._client.access_secret_version,
            request={"name": f"{secret_path}/versions/{version}"},
        )

    def _consumers(self, variables: list[str]) -> dict[str, Any]:
        """Fingerprints of the values that consumers hold (read from driftcheck's environment)."""
        held: dict[str, Any] = {}
        for variable in variables:
            value = os.environ.get(variable)
            held[variable] = (
                {"set": False}
                if value is None
                else {"set": True, "value": self._fingerprints.redacted(value)}
            )
        return held


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """A call's result or its exception, to be looked at by whoever waits for it."""
    try:
        return call(), None
    except Exception as exc:  # noqa: BLE001 - handed over and judged by the waiting caller
        return None, exc


def _wants_latest(plan: SecretPlan, name: str) -> bool:
    """Whether the latest version's payload will be read (see ``_collect_secret``)."""
    references = plan.references.get(name, [])
    return (
        bool(plan.consumers.get(name))
        or not references
        or any(ref.version == "latest" for ref in references)
    )


def _project_of(reference: str, env: Environment) -> str:
    """The project a secret is read from: its own for a path, else the environment's."""
    return split_secret_reference(reference)[0] or env.project


def _version_number(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _reference_map(
    plan: SecretPlan,
    name: str,
    states: Mapping[str, str],
    latest: str | None,
    fingerprints: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Each reference: what it asks for, what it resolves to, and that version's state."""
    references: dict[str, Any] = {}
    for ref in plan.references.get(name, []):
        number = latest if ref.version == "latest" else ref.version
        references[ref.where] = {
            "pinned": ref.version != "latest",
            "requested": ref.version,
            "resolved": number,
            "state": states.get(number, "missing") if number else "no enabled version",
            "fingerprint": (fingerprints or {}).get(number) if number else None,
        }
    return references


class EarlySecretReads:
    """Secret reads started while the workloads are still being read: each secret's reads
    begin when the first resource referencing it is normalized (see ``ResourceKind.early``),
    so that the secrets stage finds them under way or done and starts only the others."""

    def __init__(self, context: CollectionContext, env: Environment) -> None:
        # A pool of its own (made on first use), as large as the cap on calls: an estate of
        # thousands of secrets starts no more threads than that (reads wait on slots only,
        # never on each other).
        self._size = context.workers.concurrency
        self._pool: DaemonPool | None = None
        self._pool_lock = threading.Lock()
        self.collector = SecretManagerCollector(
            context.clients.secrets,
            context.settings,
            context.fingerprints,
            context.workers,
            context.access_payloads,
            start=self._submit,
        )
        self._env = env
        self._reads: dict[str, SecretReads] = {}
        self._lock = threading.Lock()

    def observe(self, key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
        """Start reading each secret ``body`` references that no earlier resource did."""
        if not isinstance(body.get("template"), dict):
            return
        for _where, name, version in _workload_references(body):
            literal = literals.get(name, name)
            with self._lock:
                if literal not in self._reads:
                    self._reads[literal] = self.collector.start_reads(
                        self._env, literal, wants_latest=version == "latest"
                    )

    def reads(self) -> dict[str, SecretReads]:
        """The reads started so far, by secret."""
        with self._lock:
            return dict(self._reads)

    def _submit(self, function: Callable[[], Any]) -> Future[Any]:
        with self._pool_lock:  # (``observe`` holds ``_lock`` while it starts reads)
            if self._pool is None:
                self._pool = DaemonPool(self._size, "driftcheck-secret")
            return self._pool.submit(function)

    def close(self) -> None:
        """Let the pool's threads end once its reads are done."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)


def collect_secrets(context: CollectionContext, request: CollectRequest) -> CollectorResult:
    """The secrets that collected workloads reference and the config lists, each read once
    (reads started early, while the workloads were read, are taken over)."""
    env = request.env
    plan = plan_secrets(request.upstream.resources, env, request.upstream.literals)
    early = request.early.get("secret")
    reads = early if isinstance(early, EarlySecretReads) else EarlySecretReads(context, env)
    try:
        if not plan.names:
            return CollectorResult()
        return reads.collector.collect(env, plan, reads.reads())
    finally:
        reads.close()
