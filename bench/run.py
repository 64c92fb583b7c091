"""driftcheck benchmark: measures and prints; asserts nothing (``make bench``).

1. Collection of 2 environments x 300 services through the real google-cloud-run client against
   the emulator (in its own process) with 50 ms injected latency: wall time against the ideal
   (API calls x latency / concurrency), speed-up over a sequential per-service loop with the same
   client, and API calls per service.
2. Compare and render (json, html, md) for 300 and 3,000 services with 5% drifted, each in a fresh
   process so that peak RSS is its own.
3. End to end, as users run it: ``driftcheck baseline`` and ``driftcheck check`` processes, start
   to exit, against the emulator with latency, at 300 and 3,000 services, one secret for every
   ten services; side by side with a sequential and a 16-thread script using the same client
   (also whole processes); a multi-project estate checked with ``check --all`` in one process;
   a run under a configured quota with its calls counted per 60-second window; and
   ``driftcheck diff`` of two stored snapshots at 3,000, 30,000 and 50,000 services. Each
   end-to-end check runs three times against one baseline and the median is measured against
   its ideal. Peak RSS is the measured process's own (``os.wait4`` in a small launcher
   process), not the benchmark's.

Measured processes run driftcheck's compiled bytecode, as an installed copy does (it is compiled
first). The ideal of a run is the larger of API calls x latency / concurrency and its quota floor.
``python bench/run.py diff quota`` runs some parts only.
"""

from __future__ import annotations

import compileall
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from driftcheck.emulator.scenario import Scenario  # noqa: E402
from tests.factories import PROD, STAGING, config_data, large_estate  # noqa: E402

LATENCY_MS = 50.0
SERVICES = 300
CONCURRENCY = 16
RUNS = 5
PAGE_SIZE = 100
KEY = "benchmark-fingerprint-key-0123456789"


def serve(scenario_json: str, ready: Any, stop: Any, times: bool = False) -> None:
    """Child process: run the emulator until told to stop; hand back the number of calls (with
    ``times``, the time and path of each, for the quota check)."""
    from driftcheck.emulator import EmulatorServer, server

    arrivals: list[tuple[float, str]] = []
    if times:
        original = server._Handler._serve

        def timed(handler: Any, method: str) -> None:
            arrivals.append((time.monotonic(), handler.path))
            original(handler, method)

        server._Handler._serve = timed  # type: ignore[method-assign, assignment]
    with EmulatorServer(Scenario.model_validate_json(scenario_json)) as emulator:
        ready.put(emulator.url)
        stop.wait()
        ready.put(arrivals if times else [(0.0, path) for _method, path in emulator.calls])


def collection_benchmark() -> None:
    from driftcheck.clients import build_clients
    from driftcheck.config import load_config
    from driftcheck.pipeline import collect_environments, collection_context

    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(
        target=serve,
        args=(large_estate(SERVICES, LATENCY_MS, PAGE_SIZE).model_dump_json(), ready, stop),
    )
    child.start()
    url = ready.get(timeout=60)
    os.environ.update(
        DRIFTCHECK_RUN_ENDPOINT=url,
        DRIFTCHECK_SECRETMANAGER_ENDPOINT=url,
        DRIFTCHECK_FINGERPRINT_KEY=KEY,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "driftcheck.yaml"
        path.write_text(json.dumps(config_data(api={"timeout_seconds": 30, "retry_seconds": 60})))
        config = load_config(path)
        clients = build_clients(pool_size=CONCURRENCY)
        walls = []
        for _run in range(RUNS):  # fresh rate limiters each time, as in a real run
            with collection_context(config, concurrency=CONCURRENCY, clients=clients) as context:
                started = time.perf_counter()
                snapshots = collect_environments(config, ["production", "staging"], context)
                walls.append(time.perf_counter() - started)
        sequential, sequential_calls = sequential_loop(clients.run)
    stop.set()
    calls = (len(ready.get(timeout=60)) - sequential_calls) // RUNS
    wall = statistics.median(walls)
    child.join(timeout=30)
    services = sum(len(s.resources) for s in snapshots.values())
    assert all(not s.errors for s in snapshots.values()), "collection had errors"
    ideal = calls * LATENCY_MS / 1000 / CONCURRENCY
    print(
        f"collection: 2 environments x {SERVICES} services, {LATENCY_MS:.0f} ms latency, "
        f"concurrency {CONCURRENCY}"
    )
    print(f"  API calls              {calls} ({calls / services:.2f} per service)")
    print(
        f"  wall time              {wall:.2f} s (median of {RUNS}; runs: "
        f"{', '.join(f'{w:.2f}' for w in walls)})"
    )
    print(f"  ideal                  {ideal:.2f} s (calls x latency / concurrency)")
    print(f"  ratio to ideal         {wall / ideal:.2f}   (target <= 1.2)")
    print(f"  sequential loop        {sequential:.2f} s")
    print(f"  speed-up               {sequential / wall:.1f}x  (target >= 10x)")


def sequential_loop(client: Any) -> tuple[float, int]:
    """The naive way: list, then one IAM call per service, one after the other."""
    started = time.perf_counter()
    calls = 0
    for project_id in (PROD, STAGING):
        pager = client.list_services(
            request={"parent": f"projects/{project_id}/locations/us-central1"}
        )
        for page in pager.pages:
            calls += 1
            for svc in page.services:
                client.get_iam_policy(request={"resource": svc.name})
                calls += 1
    return time.perf_counter() - started, calls


def compare_render_child(count: int) -> None:
    """Child process: build two snapshots, then time compare and render."""
    from driftcheck.compare import CompareOptions, compare
    from driftcheck.fingerprint import Fingerprinter
    from driftcheck.identity import Neutralizer
    from driftcheck.kinds.service.normalize import normalize_service
    from driftcheck.merge import merge_findings
    from driftcheck.model import BaselineRef, Provenance, Snapshot
    from driftcheck.render.interface import ReportFormat
    from driftcheck.report import build_report
    from tests.factories import service as make_service

    fingerprints = Fingerprinter(KEY.encode())
    neutral = Neutralizer(project=PROD, region="us-central1")

    def snapshot(env: str, drifted: bool) -> Snapshot:
        resources = {}
        for i in range(count):
            raw = make_service(f"svc-{i:05d}", PROD)
            if drifted and i % 20 == 0:  # 5% drifted
                raw["template"]["timeout"] = "300s"
                raw["template"]["containers"][0]["env"].append({"name": "NEW", "value": "x"})
            body = _to_dict_shape(raw)
            key = f"service/us-central1/svc-{i:05d}"
            resources[key] = normalize_service(body, {}, neutral, fingerprints)
        return Snapshot(
            environment=env,
            project=PROD,
            regions={"us-central1": "us-central1"},
            collected_at="t",
            tool_version="b",
            resources=resources,
        )

    baseline, actual = snapshot("production", False), snapshot("staging", True)
    started = time.perf_counter()
    result = compare(baseline, actual, CompareOptions(cross_environment=True))
    findings = merge_findings(result.findings)
    report = build_report(
        "staging",
        BaselineRef(environment="production", path="b", sha256="0" * 64, collected_at="t"),
        findings,
        result.gaps,
        Provenance(tool_version="b"),
        generated_at="t",
        coverage=result.coverage,
    )
    compared = time.perf_counter() - started
    started = time.perf_counter()
    sizes = {fmt.value: len(fmt.renderer(report)) for fmt in ReportFormat}
    rendered = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "count": count,
                "findings": len(findings),
                "compare": compared,
                "render": rendered,
                "peak_mb": peak_mb,
                "sizes": sizes,
            }
        )
    )


def _to_dict_shape(raw: dict[str, Any]) -> dict[str, Any]:
    """REST camelCase -> the snake_case shape of ``Service.to_dict``."""
    import re

    def snake(key: str) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()

    def convert(value: Any, parent: str = "") -> Any:
        if isinstance(value, dict):
            keep = parent in ("labels", "annotations", "limits")
            return {(k if keep else snake(k)): convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, parent) for v in value]
        return value

    return dict(convert(raw))


def compare_render_benchmark() -> None:
    results = {}
    for count in (300, 3000):
        done = subprocess.run(  # noqa: S603 - this very file, fixed arguments
            [sys.executable, __file__, "--compare-child", str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[count] = json.loads(done.stdout.strip().splitlines()[-1])
    print("compare and render (5% drifted)")
    for count, r in results.items():
        print(
            f"  {count:>5} services: {r['findings']:>4} findings, compare {r['compare']:.3f} s, "
            f"render {r['render']:.3f} s, peak RSS {r['peak_mb']:.0f} MB"
        )
    small, large = results[300], results[3000]
    print(
        f"  3,000 services: compare <= 1 s: {large['compare']:.3f} s; renders <= 2 s: "
        f"{large['render']:.3f} s; peak RSS <= 400 MB: {large['peak_mb']:.0f} MB"
    )
    total_small = small["compare"] + small["render"]
    total_large = large["compare"] + large["render"]
    print(f"  10x services cost {total_large / total_small:.1f}x the time (target <= 12x)")


# Starts the measured process from a small Python process of its own and reports its wall time,
# exit code and peak RSS. Linux's ``ru_maxrss`` of a child keeps the peak of the memory it was
# started from (a fork or vfork copy of its parent, before exec): started from this benchmark,
# which holds whole estates and snapshots, it would report the benchmark's peak, not its own.
LAUNCHER = """
import json, os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execv(sys.argv[1], sys.argv[1:])
_pid, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps([wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), cpu]))
"""


CPU_SECONDS: list[float] = []  # CPU time of each measured process, in order


def measured(
    argv: list[str], env: dict[str, str], cwd: Path, module: bool = True
) -> tuple[float, float, int]:
    """Run one driftcheck process (or, with ``module`` false, a script of this folder); its wall
    time, its own peak RSS (MB) and its exit code."""
    command = [sys.executable, *(["-m", "driftcheck"] if module else []), *argv]
    done = subprocess.run(  # noqa: S603 - driftcheck itself, fixed arguments
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    wall, rss, code, cpu = json.loads(done.stdout)
    CPU_SECONDS.append(cpu)
    return float(wall), float(rss), int(code)


@dataclass
class Emulated:
    """An emulator in its own process, and a folder with a driftcheck.yaml pointing at it."""

    folder: Path
    config: Path
    env: dict[str, str]
    calls: int = 0
    arrivals: list[tuple[float, str]] = field(default_factory=list)

    def breakdown(self, runs: int) -> str:
        """The calls of one run by what they read."""
        kinds = {
            ":getIamPolicy": "IAM",
            "/revisions/": "revisions",
            "/secrets/": "secrets",
            "/secrets": "secret listings",
            "/services": "service lists",
            "/jobs": "job lists",
            "/workerPools": "worker pool lists",
            "/connectors": "dependencies",
            "/instances": "dependencies",
        }
        counted: dict[str, int] = {}
        for _time, path in self.arrivals:
            kind = next((k for marker, k in kinds.items() if marker in path), "other")
            counted[kind] = counted.get(kind, 0) + 1
        return ", ".join(f"{n // runs} {kind}" for kind, n in counted.items())

    def run(self, *argv: str) -> tuple[float, float, int]:
        """One measured driftcheck process against the emulator."""
        return measured(["--config", str(self.config), "-q", *argv], self.env, self.folder)


@contextmanager
def emulated(
    scenario: Scenario,
    rate_limit: int,
    environments: dict[str, Any] | None = None,
    times: bool = False,
    concurrency: int = CONCURRENCY,
    dependencies: bool = True,
) -> Iterator[Emulated]:
    """Serve ``scenario`` from a child process; ``calls`` holds the calls it received after
    (``arrivals`` their times, with ``times``). With ``dependencies`` every environment reads
    its dependencies (connectors, Redis, Cloud SQL); every rate limit is ``rate_limit`` a
    minute."""
    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(
        target=serve, args=(scenario.model_dump_json(), ready, stop, times)
    )
    child.start()
    url = ready.get(timeout=600)
    env = {
        **os.environ,
        "DRIFTCHECK_RUN_ENDPOINT": url,
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": url,
        "DRIFTCHECK_VPCACCESS_ENDPOINT": url,
        "DRIFTCHECK_REDIS_ENDPOINT": url,
        "DRIFTCHECK_SQLADMIN_ENDPOINT": url,
        "DRIFTCHECK_FINGERPRINT_KEY": KEY,
    }
    apis = ("run", "secretmanager", "secretmanager_access", "vpcaccess", "redis", "sqladmin")
    api = {
        "timeout_seconds": 60,
        "retry_seconds": 60,
        "concurrency": concurrency,
        "rate_limits": dict.fromkeys(apis, rate_limit),
    }
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "driftcheck.yaml"
        chosen = environments or config_data()["environments"]
        if dependencies:
            chosen = {name: {**env, "dependencies": {}} for name, env in chosen.items()}
        config.write_text(json.dumps(config_data(api=api, environments=chosen)))
        session = Emulated(Path(folder), config, env)
        try:
            yield session
        finally:
            stop.set()
            answer = ready.get(timeout=600)
            session.arrivals = answer
            session.calls = len(answer)
            child.join(timeout=60)


def with_secrets(scenario: Scenario, every: int = 10) -> Scenario:
    """``scenario`` with one secret (two versions, the older disabled) for every ``every``
    services of each project, each referenced by ``every`` services through ``latest``."""
    data = scenario.model_dump()
    for project in data["projects"].values():
        services = [svc for region in project["services"].values() for svc in region]
        count = max(1, len(services) // every)
        for index, svc in enumerate(services):
            svc["template"]["containers"][0]["env"].append(
                {
                    "name": "DB_PASSWORD",
                    "valueSource": {
                        "secretKeyRef": {"secret": f"db-{index % count:04d}", "version": "latest"}
                    },
                }
            )
        project["secrets"] = {
            f"db-{n:04d}": {
                "versions": [
                    {"version": 1, "state": "DISABLED", "payload": "old"},
                    {"version": 2, "payload": f"password-{n}"},
                ]
            }
            for n in range(count)
        }
    return Scenario.model_validate(data)


def with_workloads(scenario: Scenario, jobs_every: int = 50, pinned_every: int = 20) -> Scenario:
    """``scenario`` with what else a Cloud Run estate holds: one job for every ``jobs_every``
    services and one worker pool per project (each with its IAM policy), one service in every
    ``pinned_every`` serving 10% of its traffic from an older, pinned revision (read with one
    ``get_revision``), and the VPC connector, Redis instance and Cloud SQL instance the services
    use (read when an environment has ``dependencies:``, as :func:`bench_config` sets)."""
    data = scenario.model_dump()
    for project_id, project in data["projects"].items():
        for region, services in project["services"].items():
            for index, svc in enumerate(services):
                if index % pinned_every:
                    continue
                name = svc["name"]
                base = f"projects/{project_id}/locations/{region}/services/{name}"
                svc["traffic"] = [
                    {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 90},
                    {
                        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                        "revision": f"{name}-00001",
                        "percent": 10,
                    },
                ]
                svc["trafficStatuses"] = [
                    {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 90},
                    {
                        "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                        "revision": f"{name}-00001",
                        "percent": 10,
                    },
                ]
                svc["latestReadyRevision"] = f"{base}/revisions/{name}-00002"
                svc["latestCreatedRevision"] = f"{base}/revisions/{name}-00002"
                older = {**svc["template"], "name": f"{name}-00001"}
                image = older["containers"][0]["image"].rsplit(":", 1)[0] + ":0.9.0"
                older["containers"] = [{**older["containers"][0], "image": image}]
                project["revisions"].setdefault(region, []).append(older)
            count = max(1, len(services) // jobs_every)
            template = services[0]["template"]
            project["jobs"][region] = [
                {
                    "name": f"job-{n:04d}",
                    "template": {
                        "taskCount": 1,
                        "template": {
                            "containers": template["containers"],
                            "serviceAccount": template["serviceAccount"],
                            "vpcAccess": template["vpcAccess"],
                            "timeout": "600s",
                            "maxRetries": 1,
                        },
                    },
                }
                for n in range(count)
            ]
            project["worker_pools"][region] = [
                {
                    "name": "consumer",
                    "template": {
                        "containers": template["containers"],
                        "vpcAccess": template["vpcAccess"],
                    },
                }
            ]
            for n in range(count):
                project["iam"][f"jobs/job-{n:04d}"] = {"bindings": []}
            project["iam"]["workerPools/consumer"] = {"bindings": []}
            network = f"projects/{project_id}/global/networks/default"
            project["connectors"][region] = [
                {
                    "name": "egress",
                    "network": "default",
                    "ipCidrRange": "10.8.0.0/28",
                    "state": "READY",
                    "machineType": "e2-micro",
                    "minInstances": 2,
                    "maxInstances": 3,
                }
            ]
            project["redis"][region] = [
                {
                    "name": "cache",
                    "tier": "BASIC",
                    "redisVersion": "REDIS_7_0",
                    "memorySizeGb": 1,
                    "state": "READY",
                    "host": "10.0.0.3",
                    "port": 6379,
                    "authorizedNetwork": network,
                    "connectMode": "PRIVATE_SERVICE_ACCESS",
                    "locationId": f"{region}-a",
                }
            ]
            project["sql"] = [
                {
                    "name": "main-db",
                    "region": region,
                    "databaseVersion": "POSTGRES_15",
                    "state": "RUNNABLE",
                    "ipAddresses": [{"type": "PRIVATE", "ipAddress": "10.20.0.5"}],
                    "settings": {
                        "tier": "db-custom-2-8192",
                        "availabilityType": "ZONAL",
                        "ipConfiguration": {"ipv4Enabled": False, "privateNetwork": network},
                    },
                }
            ]
    return Scenario.model_validate(data)


def bench_estate(count: int, latency_ms: float = LATENCY_MS) -> Scenario:
    """Production and staging of ``count`` services each, with secrets and workloads (see
    :func:`with_secrets` and :func:`with_workloads`)."""
    return with_workloads(with_secrets(large_estate(count, latency_ms, PAGE_SIZE)))


def script(threads: int) -> None:
    """Child process: what a user might write instead of driftcheck, with the same clients.
    Each environment in turn: list every page of services, jobs and worker pools, then read the
    IAM policy of each (and the revision a service pins, if any), then each referenced secret
    (metadata, versions, latest payload), ``threads`` at a time; then diff the two environments
    and write the differences as JSON. (It reads no VPC dependency: three calls fewer a run.)"""
    from concurrent.futures import ThreadPoolExecutor

    from google.protobuf import json_format

    from driftcheck.clients import build_clients

    clients = build_clients(pool_size=threads)

    def resource(client: Any, item: Any) -> tuple[str, Any]:
        iam = client.get_iam_policy(request={"resource": item.name})
        body = type(item).to_dict(item)
        body["iam"] = json_format.MessageToDict(iam)
        for status in getattr(item, "traffic_statuses", ()):
            if status.revision and not item.latest_ready_revision.endswith(status.revision):
                revision = clients.revisions.get_revision(
                    request={"name": f"{item.name}/revisions/{status.revision}"}
                )
                body.setdefault("serving", []).append(
                    type(revision).to_dict(revision)["containers"]
                )
        for volatile in ("name", "uid", "uri", "etag", "create_time", "update_time"):
            body.pop(volatile, None)
        return item.name.split("/", 4)[-1], body

    def secret(name: str) -> tuple[str, Any]:
        meta = clients.secrets.get_secret(request={"name": name})
        versions = [v.name for v in clients.secrets.list_secret_versions(request={"parent": name})]
        payload = clients.secrets.access_secret_version(request={"name": f"{name}/versions/latest"})
        return name.rsplit("/", 1)[-1], [meta.labels and dict(meta.labels), versions, payload.name]

    def collect(project: str) -> dict[str, Any]:
        parent = f"projects/{project}/locations/us-central1"
        found = [
            (client, item)
            for client, method, field in (
                (clients.run, "list_services", "services"),
                (clients.jobs, "list_jobs", "jobs"),
                (clients.worker_pools, "list_worker_pools", "worker_pools"),
            )
            for page in getattr(client, method)(request={"parent": parent}).pages
            for item in getattr(page, field)
        ]
        with ThreadPoolExecutor(threads) as pool:
            resources = dict(pool.map(lambda pair: resource(*pair), found))
            names = {
                f"projects/{project}/secrets/{env['value_source']['secret_key_ref']['secret']}"
                for body in resources.values()
                for container in body["template"].get("containers", [])
                for env in container.get("env", [])
                if env.get("value_source")
            }
            secrets = dict(pool.map(secret, sorted(names)))
        return {"resources": resources, "secrets": secrets}

    def neutral(value: Any) -> str:
        # (proto maps that ``to_dict`` leaves inside a message's lists are mappings)
        return json.dumps(value, sort_keys=True, default=dict).replace(STAGING, PROD)

    before, after = collect(PROD), collect(STAGING)
    differing = sorted(
        f"{kind}/{name}"
        for kind in ("resources", "secrets")
        for name in before[kind].keys() | after[kind].keys()
        if neutral(before[kind].get(name)) != neutral(after[kind].get(name))
    )
    Path("script-diff.json").write_text(json.dumps(differing))


CHECK_RUNS = 3  # each end-to-end check is run this many times against one baseline


def median_check(emulator: Emulated, *argv: str) -> tuple[tuple[float, float, int], float, str]:
    """``CHECK_RUNS`` measured ``check`` processes: the one of median wall time (with its CPU
    seconds) and every wall time, as text. Single runs vary by 10-30% on a 2-core machine."""
    runs = []
    for _ in range(CHECK_RUNS):
        result = emulator.run("check", *argv)
        runs.append((result, CPU_SECONDS[-1]))
    runs.sort(key=lambda run: run[0][0])
    result, cpu = runs[len(runs) // 2]
    return result, cpu, ", ".join(f"{run[0][0]:.2f}" for run in runs)


def ideal_seconds(calls: int, concurrency: int = CONCURRENCY) -> float:
    """Calls x latency / concurrency (rate limits above the calls made)."""
    return calls * LATENCY_MS / 1000 / concurrency


def end_to_end_benchmark() -> None:
    print(
        "end to end (processes, 50 ms latency, rate limits above the calls made; estate: "
        "services with IAM, one secret per 10 services, a job per 50, a worker pool, 5% of "
        "services serving a pinned revision, dependencies configured); driftcheck at "
        f"concurrency {CONCURRENCY} (the default) and {2 * CONCURRENCY}, each against its own "
        "ideal; the scripts at 16 threads"
    )
    for count in (300, 3000):
        estate = bench_estate(count)
        runs: dict[int, float] = {}
        for concurrency in (CONCURRENCY, 2 * CONCURRENCY):
            with emulated(estate, 1_000_000, concurrency=concurrency) as emulator:
                baseline = emulator.run("baseline", "production")
                baseline_cpu = CPU_SECONDS[-1]
                check, check_cpu, walls = median_check(
                    emulator, "staging", "--against", "production"
                )
            per_run = emulator.calls // (1 + CHECK_RUNS)
            ideal = ideal_seconds(per_run, concurrency)
            target = 1.6 if count < 1000 else 1.3
            ratio = check[0] / ideal
            if concurrency == CONCURRENCY:
                breakdown = emulator.breakdown(1 + CHECK_RUNS)
                print(f"  {count:>5} services, {per_run} calls a run ({breakdown})")
            print(
                f"         concurrency {concurrency}: baseline {baseline[0]:.2f} s (CPU "
                f"{baseline_cpu:.2f} s, {baseline[1]:.0f} MB, exit {baseline[2]}), check "
                f"{check[0]:.2f} s (median of {walls}; CPU {check_cpu:.2f} s, {check[1]:.0f} MB, "
                f"exit {check[2]}); ideal {ideal:.2f} s; check / ideal {ratio:.2f} "
                f"(target <= {target}: {verdict(ratio <= target)})"
            )
            runs[concurrency] = baseline[0] + check[0]
        scripts = {16: 0.0} if count > 1000 else {16: 0.0, 1: 0.0}
        for threads in scripts:
            with emulated(estate, 1_000_000) as emulator:
                scripts[threads] = measured(
                    [str(Path(__file__).resolve()), "--script", str(threads)],
                    emulator.env,
                    emulator.folder,
                    module=False,
                )[0]
        target = 1.2 if count < 1000 else 1.5
        for concurrency, ours in runs.items():
            speedup = scripts[16] / ours
            line = (
                f"         baseline + check at concurrency {concurrency} {ours:.2f} s; 16-thread "
                f"script {scripts[16]:.2f} s: {speedup:.2f}x "
                f"(target >= {target}: {verdict(speedup >= target)})"
            )
            if 1 in scripts:
                line += f"; sequential script {scripts[1]:.2f} s: {scripts[1] / ours:.1f}x"
            print(line)


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


def estate_benchmark(projects: int = 12, count: int = 100) -> None:
    """A multi-project estate (``projects`` environments of ``count`` services, with secrets
    and workloads) checked in one process with ``check --all``, each against its own
    baseline."""
    from tests.factories import project, service

    names = [f"env-{n:02d}" for n in range(projects)]
    scenario = Scenario.model_validate(
        {
            "projects": {
                f"acme-{name}": project(
                    [service(f"svc-{i:04d}", f"acme-{name}") for i in range(count)],
                    f"{100000000000 + n}",
                    iam={f"svc-{i:04d}": {"bindings": []} for i in range(count)},
                )
                for n, name in enumerate(names)
            },
            "latency_ms": LATENCY_MS,
            "max_page_size": PAGE_SIZE,
        }
    )
    scenario = with_workloads(with_secrets(scenario))
    environments = {
        name: {
            "project": f"acme-{name}",
            "project_number": f"{100000000000 + n}",
            "regions": ["us-central1"],
        }
        for n, name in enumerate(names)
    }
    with emulated(scenario, 1_000_000, environments) as emulator:
        for name in names:
            emulator.run("baseline", name)
        (wall, rss, code), _cpu, walls = median_check(emulator, "--all")
    per_run = emulator.calls // (1 + CHECK_RUNS)  # the baselines make the calls of one check
    ideal = ideal_seconds(per_run)
    print(
        f"estate: {projects} projects x {count} services (as above), `check --all` in one "
        f"process: {wall:.2f} s (median of {walls}; {rss:.0f} MB, exit {code}), {per_run} "
        f"calls, ideal {ideal:.2f} s; ratio {wall / ideal:.2f} "
        f"(target <= 1.2: {verdict(wall / ideal <= 1.2)})"
    )


def quota_benchmark(count: int = 400, quota: int = 240) -> None:
    """``check`` of ``count`` services under a configured Cloud Run quota of ``quota`` calls a
    minute: the emulator times every call; no 60-second window may hold more Cloud Run calls
    than the quota."""
    import bisect

    from tests.factories import project, service

    scenario = Scenario.model_validate(
        {
            "projects": {
                PROD: project([service("svc-0000", PROD)], "111111111111"),
                STAGING: project([service(f"svc-{i:04d}", STAGING) for i in range(count)], "2222"),
            },
            "latency_ms": LATENCY_MS,
            "max_page_size": PAGE_SIZE,
        }
    )
    with emulated(scenario, quota, times=True) as emulator:
        emulator.run("baseline", "production")
        wall, _rss, code = emulator.run("check", "staging", "--against", "production")
    # The check's Cloud Run calls (v2): each API has its quota (and limiter) of its own, and the
    # dependency listings (VPC Access, Redis, Cloud SQL) count against theirs.
    checked = sorted(
        t for t, path in emulator.arrivals if f"/{STAGING}/" in path and path.startswith("/v2/")
    )
    busiest = max(
        bisect.bisect_left(checked, start + 60.0) - index for index, start in enumerate(checked)
    )
    calls = len(checked)
    floor = 60.0 * ((calls - 1) // quota)
    ideal = max(ideal_seconds(calls), floor + LATENCY_MS / 1000)
    print(
        f"quota: check of {count} services under run: {quota}/min per project and region: "
        f"{calls} calls in {wall:.1f} s (exit {code}; ideal {ideal:.1f} s, the quota floor); "
        f"busiest 60-second window {busiest} calls "
        f"(target <= {quota}: {verdict(busiest <= quota)})"
    )


def large_estate_benchmark(count: int = 50_000) -> None:
    """``baseline`` then ``check`` of one environment of ``count`` services (no latency): the
    memory a very large estate needs, and that what ``baseline`` writes, ``check`` reads."""
    # (No dependencies: this estate has no connector, and every service would be a violation.)
    with emulated(large_estate(count, 0, PAGE_SIZE), 10_000_000, dependencies=False) as emulator:
        baseline = emulator.run("baseline", "production")
        size = (emulator.folder / "baselines" / "production.yaml").stat().st_size / 1e6
        check = emulator.run("check", "production", "--format", "json")
    print(f"one environment of {count} services (no latency)")
    print(
        f"  baseline {baseline[0]:.1f} s, peak RSS {baseline[1]:.0f} MB, exit {baseline[2]}; "
        f"baseline file {size:.1f} MB"
    )
    print(f"  check    {check[0]:.1f} s, peak RSS {check[1]:.0f} MB, exit {check[2]}")


def snapshot_files(count: int, folder: Path) -> tuple[Path, Path]:
    """Two snapshot files of ``count`` services, 5% drifted, built from one normalized body."""
    import copy

    from driftcheck.baseline import write_snapshot
    from driftcheck.fingerprint import Fingerprinter
    from driftcheck.identity import Neutralizer
    from driftcheck.kinds.service.normalize import normalize_service
    from driftcheck.model import Snapshot
    from tests.factories import service as make_service

    neutral = Neutralizer(project=PROD, region="us-central1")
    body = normalize_service(
        _to_dict_shape(make_service("svc", PROD)), {}, neutral, Fingerprinter(KEY.encode())
    )
    drifted = copy.deepcopy(body)
    drifted["template"]["timeout"] = 300
    paths = []
    for env, changed in (("production", False), ("staging", True)):
        resources = {
            f"service/us-central1/svc-{i:05d}": drifted if changed and i % 20 == 0 else body
            for i in range(count)
        }
        snapshot = Snapshot(
            environment=env,
            project=PROD if env == "production" else STAGING,
            regions={"us-central1": "us-central1"},
            collected_at="t",
            tool_version="bench",
            resources=resources,
        )
        path = folder / f"{env}-{count}.yaml"
        write_snapshot(path, snapshot)
        paths.append(path)
    return paths[0], paths[1]


def diff_benchmark() -> None:
    print("diff of two stored snapshots (5% drifted), one process each")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (3000, 30000, 50000):
            a, b = snapshot_files(count, Path(folder))
            size = b.stat().st_size / 1e6
            env = {**os.environ, "DRIFTCHECK_FINGERPRINT_KEY": KEY}
            wall, rss, code = measured(
                ["diff", str(a), str(b), "--out-dir", str(Path(folder) / f"out-{count}")],
                env,
                Path(folder),
            )
            results[count] = wall
            print(
                f"  {count:>6} services ({size:.1f} MB each): {wall:.2f} s, peak RSS "
                f"{rss:.0f} MB, exit {code}"
            )
    print(
        f"  50,000 services: <= 15 s: {results[50000]:.2f} s; 10x services cost "
        f"{results[30000] / results[3000]:.1f}x the time (target <= 11x)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--compare-child":
        compare_render_child(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--script":
        script(int(sys.argv[2]))
    else:
        # As installed: an edited module whose bytecode is stale would be compiled again by
        # every measured process (and never written back under PYTHONDONTWRITEBYTECODE).
        compileall.compile_dir(ROOT / "driftcheck", quiet=1)
        parts = {
            "collection": collection_benchmark,
            "compare": compare_render_benchmark,
            "end-to-end": end_to_end_benchmark,
            "estate": estate_benchmark,
            "quota": quota_benchmark,
            "diff": diff_benchmark,
            "large": large_estate_benchmark,
        }
        for name in sys.argv[1:] or list(parts):
            parts[name]()
