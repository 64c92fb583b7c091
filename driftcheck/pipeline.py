"""The pipeline, stage by stage: collect an environment, compare with a baseline, report.

This is the only module that knows every stage; each stage only knows its inputs.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from driftcheck import __version__
from driftcheck.baseline import (
    file_sha256,
    header_matches,
    read_snapshot,
    snapshot_file_text,
)
from driftcheck.clients import ApiClients, build_clients
from driftcheck.collectors.interface import CollectionContext, CollectorResult
from driftcheck.compare import CompareOptions, compare
from driftcheck.concurrency import (
    Background,
    DaemonPool,
    RateLimits,
    Workers,
    calls_through,
    run_all,
)
from driftcheck.config import Environment, LoadedConfig, Rules
from driftcheck.errors import BaselineError, CollectionError
from driftcheck.fingerprint import Fingerprinter
from driftcheck.kinds import KINDS, CollectRequest, stages
from driftcheck.merge import merge_findings
from driftcheck.model import (
    BaselineRef,
    CollectionErrorRecord,
    DriftReport,
    Provenance,
    Reproduction,
    Snapshot,
)
from driftcheck.progress import Progress
from driftcheck.report import build_report
from driftcheck.rules import apply_rules
from driftcheck.violations import find_violations, unverifiable

log = logging.getLogger("driftcheck")


def utc_now() -> str:
    """Current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@contextmanager
def collection_context(
    config: LoadedConfig,
    *,
    concurrency: int | None = None,
    progress: Progress | None = None,
    access_payloads: bool = True,
    clients: ApiClients | None = None,
) -> Iterator[CollectionContext]:
    """Build clients, key and workers once; release the workers and progress afterwards."""
    fingerprints = Fingerprinter.from_environment()
    api = config.model.api
    limits = RateLimits(
        per_minute={
            "run": api.rate_limits.run,
            "secretmanager": api.rate_limits.secretmanager,
            "secretmanager_access": api.rate_limits.secretmanager_access,
            "vpcaccess": api.rate_limits.vpcaccess,
            "redis": api.rate_limits.redis,
            "sqladmin": api.rate_limits.sqladmin,
        }
    )
    size = concurrency or api.concurrency
    resolved_clients = clients or build_clients(pool_size=size)
    workers = Workers(size, limits, progress)
    try:
        yield CollectionContext(resolved_clients, fingerprints, workers, api, access_payloads)
    except BaseException:
        # Interrupted or failed: calls still in flight are abandoned, never waited for.
        workers.close(wait=False)
        raise
    else:
        workers.close()
    finally:
        workers.progress.stop()


def collect_environment(
    config: LoadedConfig, env_name: str, context: CollectionContext
) -> Snapshot:
    """Read one environment into a snapshot; what could not be read is listed in ``errors``."""
    env = config.environment(env_name)
    collected_at = utc_now()
    started = time.monotonic()
    result = CollectorResult()
    if env.discovers_regions:
        env = _discover_regions(env, context, result)
    # What later stages start reading before the earlier ones are done: as soon as one names
    # it (secrets), or at once (dependency listings).
    early = {kind.name: kind.early(context, env) for kind in KINDS if kind.early is not None}

    def observe(key: str, body: Mapping[str, Any], literals: Mapping[str, str]) -> None:
        for reads in early.values():
            reads.observe(key, body, literals)

    for stage in stages():
        # Kinds of one stage are read at once; a later stage sees what earlier ones read.
        request = CollectRequest(config, env_name, env, result, observe, early)
        results = run_all(
            (partial(kind.collect, context, request) for kind in stage), "driftcheck-kind"
        )
        for collected in results:
            result.merge(collected)
        if env.project_number is None and result.project_number:
            env = env.model_copy(update={"project_number": result.project_number})
    kinds = Counter(key.split("/", 1)[0] for key in result.resources)
    log.debug(
        "%s: collected %s in %.2f s; %d not collected",
        env_name,
        ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "nothing",
        time.monotonic() - started,
        len(result.errors),
    )
    return Snapshot(
        environment=env_name,
        project=env.project,
        project_number=env.project_number,
        regions=env.region_map,
        name_map=env.name_map,
        collected_at=collected_at,
        tool_version=__version__,
        fingerprint_key_id=context.fingerprints.key_id,
        resources=dict(sorted(result.resources.items())),
        context=dict(sorted(result.context.items())),
        errors=sorted(result.errors, key=lambda e: (e.resource, e.source, e.message)),
    )


def _discover_regions(
    env: Environment, context: CollectionContext, result: CollectorResult
) -> Environment:
    """``regions: all``: the project's Cloud Run regions, listed now. When they cannot be
    listed, nothing is read and the failure is recorded: the run is incomplete, never clean."""
    from driftcheck.locations import list_run_regions

    limiter = context.workers.limits.limiter("run", env.project, "locations")
    try:
        with calls_through(context.workers.slots, limiter, urgent=True):
            regions = list_run_regions(context.clients.run, env.project, context.settings)
    except CollectionError as exc:
        result.errors.append(
            CollectionErrorRecord(
                source=exc.source,
                resource="region/*",
                message=f"the Cloud Run regions of {env.project} could not be listed: {exc}",
            )
        )
        return env.with_regions([])
    log.debug("%s: Cloud Run regions %s", env.project, ", ".join(regions))
    return env.with_regions(regions)


def collect_environments(
    config: LoadedConfig, env_names: list[str], context: CollectionContext
) -> dict[str, Snapshot]:
    """Several environments at once, sharing the worker pool and rate limits."""
    started = start_environments(config, env_names, context)
    return {name: future.result()[0] for name, future in started.items()}


def start_environments(
    config: LoadedConfig, env_names: list[str], context: CollectionContext
) -> dict[str, Future[tuple[Snapshot, str]]]:
    """Start reading several environments at once (sharing the worker pool and rate limits);
    each future gives the snapshot and the time its reading finished."""

    def collect(name: str) -> tuple[Snapshot, str]:
        snapshot = collect_environment(config, name, context)
        return snapshot, utc_now()

    pool = DaemonPool(max(1, len(env_names)), "driftcheck-env")
    try:
        return {name: pool.submit(partial(collect, name)) for name in env_names}
    finally:
        pool.shutdown(wait=False)


def shared_secrets(config: LoadedConfig | None, env_name: str) -> frozenset[str]:
    """Secrets declared ``same_across_envs`` in ``env_name``."""
    if config is None or env_name not in config.model.environments:
        return frozenset()
    env = config.model.environments[env_name]
    return frozenset(spec.name for spec in env.secrets if spec.same_across_envs)


def git_commit_of(path: Path) -> str | None:
    """The commit that last touched ``path`` when the file is as that commit left it in a git
    checkout; None otherwise (not in a repository, changed since, or git unavailable)."""

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["git", *args, "--", path.name],  # noqa: S607 - git from PATH
                cwd=path.parent,
                capture_output=True,
                text=True,
                errors="replace",  # git's messages may quote paths in any encoding
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None

    done = git("log", "-1", "--format=%H")
    commit = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    if len(commit) != 40:
        return None
    changed = git("status", "--porcelain")
    if changed is None or changed.returncode != 0 or changed.stdout.strip():
        return None  # edited (or staged) since: the bytes compared are not that commit's
    return commit


SNAPSHOT_SUFFIX = ".snapshot.yaml"


def reproduction_of(snapshot_path: Path) -> Reproduction:
    """What a ``diff`` of ``snapshot_path`` reproduces: the snapshot, and the report that ``check``
    wrote beside it when it is still there (``<stem>.snapshot.yaml`` next to ``<stem>.json``)."""
    reproduction = Reproduction(
        snapshot=str(snapshot_path), snapshot_sha256=file_sha256(snapshot_path)
    )
    if not snapshot_path.name.endswith(SNAPSHOT_SUFFIX):
        return reproduction
    report_path = snapshot_path.with_name(
        snapshot_path.name.removesuffix(SNAPSHOT_SUFFIX) + ".json"
    )
    try:
        original = DriftReport.model_validate_json(report_path.read_bytes())
    except (OSError, ValueError):
        return reproduction
    return reproduction.model_copy(
        update={
            "report": str(report_path),
            "report_sha256": file_sha256(report_path),
            "report_generated_at": original.generated_at,
            "principal": original.provenance.principal,
        }
    )


@dataclass(frozen=True)
class Comparison:
    """What a check or diff produced: the report and the snapshot it judged."""

    report: DriftReport
    snapshot: Snapshot


def judge(
    baseline: Snapshot,
    baseline_path: Path,
    snapshot: Snapshot,
    rules: Rules,
    provenance: Provenance,
    options: CompareOptions,
    today: date,
    baseline_sha256: str | None = None,
) -> Comparison:
    """Compare, merge findings that share a cause, apply rules, and build the report
    (``baseline_sha256``: of the bytes the baseline was read from, else of the file now)."""
    result = compare(baseline, snapshot, options)
    findings = apply_rules(
        merge_findings([*result.findings, *find_violations(snapshot)]), rules, today
    )
    ref = BaselineRef(
        environment=baseline.environment,
        path=str(baseline_path),
        sha256=baseline_sha256 or file_sha256(baseline_path),
        collected_at=baseline.collected_at,
    )
    report = build_report(
        snapshot.environment,
        ref,
        findings,
        [*baseline.errors, *snapshot.errors, *result.gaps, *unverifiable(snapshot)],
        provenance,
        generated_at=utc_now(),
        coverage=result.coverage,
        compared=(baseline, snapshot),
    )
    concerned = {f.resource for f in findings}
    context = {key: value for key, value in snapshot.context.items() if key in concerned}
    report = report.model_copy(update={"context": context})
    return Comparison(report=report, snapshot=snapshot)


def run_check(
    config: LoadedConfig,
    env_name: str,
    base_env: str,
    context: CollectionContext,
    command: str,
    today: date | None = None,
) -> Comparison:
    """Collect ``env_name`` and compare it with the approved baseline of ``base_env``."""
    return next(run_checks(config, [(env_name, base_env)], context, command, today))


def run_checks(
    config: LoadedConfig,
    pairs: list[tuple[str, str]],
    context: CollectionContext,
    command: str,
    today: date | None = None,
) -> Iterator[Comparison]:
    """Several checks in one process: every environment collected at once on one pool with one
    set of rate limiters, each compared with its baseline as soon as it is read (in the order
    of ``pairs``: the first is reported while later ones are still being read).

    Every baseline file is read, and its header checked, before any API call (a missing file,
    or one of another schema version or environment, is an input error then); its body is
    parsed while the API is read, once no listing's page is on its way or a second into the run
    (see :class:`Background`), and a body that is not valid ends the run, the calls not yet
    made cancelled, before anything is compared or written."""
    for env_name, base_env in pairs:
        config.environment(env_name)
        config.environment(base_env)
    texts = {
        base: snapshot_file_text(config.baseline_path(base), "baseline")
        for base in dict.fromkeys(base for _env, base in pairs)
    }
    # What was read is what the reports name (the file may change meanwhile).
    hashes = {base: hashlib.sha256(text.encode()).hexdigest() for base, text in texts.items()}

    baselines = {
        # Not a baseline of this version and environment: refused now, saying why.
        base: read_snapshot(config.baseline_path(base), "baseline", base, text)
        for base, text in texts.items()
        if not header_matches(text, base)
    }
    for base in baselines:
        del texts[base]

    def parse() -> dict[str, Snapshot]:
        parsed = {}
        for base in list(texts):
            text = texts.pop(base)  # not kept beyond its parsing (a baseline may be 60 MB)
            parsed[base] = read_snapshot(config.baseline_path(base), "baseline", base, text)
        return parsed

    parsing = Background(parse, context.workers.slots)
    # The commit of each baseline as it was read, asked of git while the API is read (a run of
    # git per file: milliseconds to seconds in a large repository, no longer after the last
    # call), one after the other: at once, dozens of them could outlast git's timeout together.
    asking = DaemonPool(1, "driftcheck-git")
    commits = {
        base: asking.submit(partial(git_commit_of, config.baseline_path(base))) for base in hashes
    }
    asking.shutdown(wait=False)
    started_at = utc_now()
    collections = start_environments(
        config, list(dict.fromkeys(env for env, _base in pairs)), context
    )
    # A corrupt body ends the run as soon as it is parsed; its parsing starts when the first
    # environment read needs it, if it has not started before.
    first: list[Future[Any]] = [parsing.future, collections[pairs[0][0]]]
    wait(first, return_when=FIRST_COMPLETED)
    baselines.update(parsing.result())
    for env_name, base_env in pairs:
        snapshot, finished_at = collections[env_name].result()
        baseline_path = config.baseline_path(base_env)
        provenance = Provenance(
            tool_version=__version__,
            config_sha256=config.sha256,
            principal=context.clients.principal,
            # (sorted: the clients behind the VPC are built on threads, in no fixed order)
            endpoints=dict(sorted(context.clients.endpoints.items())),
            fingerprint_key_id=context.fingerprints.key_id,
            started_at=started_at,
            finished_at=finished_at,
            baseline_git_commit=commits[base_env].result(),
            command=command,
        )
        options = CompareOptions(
            cross_environment=env_name != base_env,
            shared_secrets=shared_secrets(config, env_name),
        )
        yield judge(
            baselines[base_env],
            baseline_path,
            snapshot,
            config.model.rules,
            provenance,
            options,
            today or date.today(),
            hashes[base_env],
        )


def run_diff(
    baseline_path: Path,
    snapshot_path: Path,
    config: LoadedConfig | None,
    command: str,
    today: date | None = None,
) -> Comparison:
    """Offline comparison of two snapshot files, with the config's rules when there is one."""
    baseline = read_snapshot(baseline_path, "baseline")
    snapshot = read_snapshot(snapshot_path, "snapshot")
    provenance = Provenance(
        tool_version=__version__,
        config_sha256=config.sha256 if config else None,
        principal="offline (diff of snapshot files)",
        reproduction_of=reproduction_of(snapshot_path),
        fingerprint_key_id=snapshot.fingerprint_key_id,
        started_at=snapshot.collected_at,
        finished_at=snapshot.collected_at,
        baseline_git_commit=git_commit_of(baseline_path),
        command=command,
    )
    options = CompareOptions(
        cross_environment=baseline.environment != snapshot.environment,
        shared_secrets=shared_secrets(config, snapshot.environment),
    )
    rules = config.model.rules if config else Rules()
    try:
        return judge(
            baseline, baseline_path, snapshot, rules, provenance, options, today or date.today()
        )
    except BaselineError as exc:
        raise BaselineError(f"{baseline_path} vs {snapshot_path}: {exc}") from None
