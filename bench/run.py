"""driftcheck benchmark: measures and prints; asserts nothing (``make bench``).

1. Collection of 2 environments x 300 services through the real google-cloud-run client against
   the emulator (in its own process) with 50 ms injected latency: wall time against the ideal
   (API calls x latency / concurrency), speed-up over a sequential per-service loop with the same
   client, and API calls per service.
2. Compare and render (json, html, md) for 300 and 3,000 services with 5% drifted, each in a fresh
   process so that peak RSS is its own.
3. End to end, as users run it: ``driftcheck baseline`` and ``driftcheck check`` processes, start
   to exit, against the emulator with latency, at 300 and 3,000 services; and ``driftcheck diff``
   of two stored snapshots at 3,000, 30,000 and 50,000 services. Peak RSS is the measured
   process's own (``os.wait4``), not the parent's.
"""

from __future__ import annotations

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
from dataclasses import dataclass
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


def serve(scenario_json: str, ready: Any, stop: Any) -> None:
    """Child process: run the emulator until told to stop."""
    from driftcheck.emulator import EmulatorServer

    with EmulatorServer(Scenario.model_validate_json(scenario_json)) as server:
        ready.put(server.url)
        stop.wait()
        ready.put(len(server.calls))


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
    calls = (ready.get(timeout=60) - sequential_calls) // RUNS
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


def measured(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Run one driftcheck process; its wall time, its own peak RSS (MB) and its exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - driftcheck itself, fixed arguments
        [sys.executable, "-m", "driftcheck", *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, process.returncode


@dataclass
class Emulated:
    """An emulator in its own process, and a folder with a driftcheck.yaml pointing at it."""

    folder: Path
    config: Path
    env: dict[str, str]
    calls: int = 0

    def run(self, *argv: str) -> tuple[float, float, int]:
        """One measured driftcheck process against the emulator."""
        return measured(["--config", str(self.config), "-q", *argv], self.env, self.folder)


@contextmanager
def emulated(scenario: Scenario, rate_limit: int) -> Iterator[Emulated]:
    """Serve ``scenario`` from a child process; ``calls`` holds the calls it received after."""
    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=serve, args=(scenario.model_dump_json(), ready, stop))
    child.start()
    url = ready.get(timeout=600)
    env = {
        **os.environ,
        "DRIFTCHECK_RUN_ENDPOINT": url,
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": url,
        "DRIFTCHECK_FINGERPRINT_KEY": KEY,
    }
    api = {
        "timeout_seconds": 60,
        "retry_seconds": 60,
        "concurrency": CONCURRENCY,
        "rate_limits": {"run": rate_limit, "secretmanager": rate_limit},
    }
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "driftcheck.yaml"
        config.write_text(json.dumps(config_data(api=api)))
        session = Emulated(Path(folder), config, env)
        try:
            yield session
        finally:
            stop.set()
            session.calls = ready.get(timeout=600)
            child.join(timeout=60)


def end_to_end_benchmark() -> None:
    print(
        f"end to end (processes, {LATENCY_MS:.0f} ms latency, concurrency {CONCURRENCY}, "
        "rate limits above the calls made)"
    )
    for count in (300, 3000):
        with emulated(large_estate(count, LATENCY_MS, PAGE_SIZE), 1_000_000) as emulator:
            baseline = emulator.run("baseline", "production")
            check = emulator.run("check", "staging", "--against", "production")
        ideal = emulator.calls / 2 * LATENCY_MS / 1000 / CONCURRENCY
        print(
            f"  {count:>5} services: baseline {baseline[0]:.2f} s ({baseline[1]:.0f} MB, exit "
            f"{baseline[2]}), check {check[0]:.2f} s ({check[1]:.0f} MB, exit {check[2]}); "
            f"ideal per run {ideal:.2f} s; check / ideal {check[0] / ideal:.2f} "
            f"(target <= {1.6 if count < 1000 else 1.3})"
        )


def large_estate_benchmark(count: int = 50_000) -> None:
    """``baseline`` then ``check`` of one environment of ``count`` services (no latency): the
    memory a very large estate needs, and that what ``baseline`` writes, ``check`` reads."""
    with emulated(large_estate(count, 0, PAGE_SIZE), 10_000_000) as emulator:
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
    else:
        collection_benchmark()
        compare_render_benchmark()
        end_to_end_benchmark()
        diff_benchmark()
        large_estate_benchmark()
