"""Scale behaviour: bounded concurrency, rate limits, progress, and a fast start."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from driftcheck.concurrency import Background, RateLimiter, Slots, calls_through, on_the_wire
from driftcheck.config import load_config
from driftcheck.emulator import EmulatorServer
from driftcheck.emulator.scenario import Scenario
from driftcheck.pipeline import collect_environments, collection_context, start_environments
from driftcheck.progress import NullProgress, RichProgress, progress_for
from tests.factories import (
    PROD,
    STAGING,
    config_data,
    large_estate,
    project,
    scenario,
    service,
    write_config,
)

Start = Callable[[Scenario], EmulatorServer]
_PARENT = f"projects/{PROD}/locations/us-central1"


def test_calls_run_concurrently_but_within_the_bound(emulator: Start, workdir: Path) -> None:
    server = emulator(large_estate(24, latency_ms=50, max_page_size=10))
    config = load_config(workdir / "driftcheck.yaml")
    with collection_context(config, concurrency=6) as context:
        snapshots = collect_environments(config, ["production", "staging"], context)
    assert all(len(s.resources) == 24 and not s.errors for s in snapshots.values())
    # every call counts, list calls on their drivers' threads included
    assert 2 <= server.state.peak_in_flight <= 6


def test_an_environments_secrets_never_wait_behind_calls_another_environment_queued(
    emulator: Start, workdir: Path
) -> None:
    # One pool and one cap for every environment of a run, but an environment whose calls are
    # done is done: its secrets are put together at once, not after every IAM read another
    # environment queued meanwhile (each check's reports are written as soon as it is judged).
    small = service("api", PROD)
    small["template"]["containers"][0]["env"].append(
        {"name": "DB_PASSWORD", "valueSource": {"secretKeyRef": {"secret": "db", "version": "2"}}}
    )
    versions = [{"version": 1, "state": "DISABLED", "payload": "a"}, {"version": 2, "payload": "b"}]
    big = [service(f"svc-{i:02d}", STAGING) for i in range(40)]
    server = emulator(
        scenario(
            projects={
                PROD: project([small], secrets={"db": {"versions": versions}}),
                STAGING: project(big, "222222222222"),
            },
            latency_ms=50,
            # production's one IAM read is answered once staging has queued all of its own
            faults=[{"path": f"/{PROD}/.*:getIamPolicy$", "body": "slow", "delay_seconds": 0.4}],
        )
    )
    write_config(workdir, **config_data(api={"concurrency": 2}))
    config = load_config(workdir / "driftcheck.yaml")

    def policies() -> list[str]:
        return [p for _m, p in server.calls if p.endswith(":getIamPolicy")]

    with collection_context(config) as context:
        production = start_environments(config, ["production"], context)["production"]
        deadline = time.monotonic() + 30
        while not policies() and time.monotonic() < deadline:
            time.sleep(0.005)  # production's one IAM read is out: staging's are queued after it
        staging = start_environments(config, ["staging"], context)["staging"]
        read, _finished = production.result(timeout=60)
        read_meanwhile = policies()
        other, _finished = staging.result(timeout=60)
    assert read.errors == [] and other.errors == []
    assert read.resources["secret/db"]["references"]
    assert len([k for k in other.resources if k.startswith("service/")]) == 40
    # 40 policies two at a time take a second: production was done long before the last
    assert len(read_meanwhile) < 30


def test_a_listing_page_goes_before_calls_already_waiting() -> None:
    slots = Slots(1)
    slots.acquire()
    order: list[str] = []

    def take(name: str, urgent: bool) -> None:
        slots.acquire(urgent)
        order.append(name)
        slots.release()

    waiting = [threading.Thread(target=take, args=(f"iam-{n}", False)) for n in range(3)]
    for thread in waiting:
        thread.start()
    time.sleep(0.1)
    page = threading.Thread(target=take, args=("next page", True))
    page.start()
    time.sleep(0.1)
    slots.release()
    for thread in [*waiting, page]:
        thread.join(timeout=5)
    assert order[0] == "next page" and sorted(order[1:]) == ["iam-0", "iam-1", "iam-2"]


def _read_after_the_wire(
    slots: Slots,
    urgent: bool,
    spans: dict[str, tuple[float, float]],
    name: str,
    seconds: float = 0.1,
) -> None:
    """One call: its exchange (nothing sent), then ``seconds`` of reading its answer."""
    with calls_through(slots, RateLimiter(1000), urgent):
        with on_the_wire():
            pass
        start = time.monotonic()
        time.sleep(seconds)
        spans[name] = (start, time.monotonic())


def test_listing_pages_are_read_one_at_a_time_other_answers_at_once() -> None:
    slots = Slots(8)
    spans: dict[str, tuple[float, float]] = {}
    calls = [(f"page-{n}", True) for n in range(3)] + [(f"iam-{n}", False) for n in range(3)]
    threads = [
        threading.Thread(target=_read_after_the_wire, args=(slots, urgent, spans, name))
        for name, urgent in calls
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    pages = sorted(span for name, span in spans.items() if name.startswith("page"))
    iams = [span for name, span in spans.items() if name.startswith("iam")]
    assert len(pages) == 3 and len(iams) == 3
    # Each page is read once the one before it is (under the interpreter's lock, read at once
    # they would all finish late); the other answers are read meanwhile.
    assert all(later[0] >= earlier[1] for earlier, later in zip(pages, pages[1:], strict=False))
    assert all(iam[0] < pages[-1][0] for iam in iams)


def test_a_page_that_failed_lets_the_next_be_read_while_its_call_waits_to_retry() -> None:
    from google.api_core import exceptions as core

    from driftcheck.collectors.interface import retry_policy
    from driftcheck.config import ApiSettings

    slots = Slots(8)
    attempts: list[float] = []
    spans: dict[str, tuple[float, float]] = {}

    def failing_once() -> None:
        with on_the_wire():
            pass
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise core.ServiceUnavailable("try again")  # the retry waits 0.2 s or more

    def listing() -> None:
        with calls_through(slots, RateLimiter(1000), urgent=True):
            # The retry's first wait is drawn at random below 0.2 s; this seed draws 0.19 s.
            random.seed(2)
            retry_policy(ApiSettings())(failing_once)()

    first = threading.Thread(target=listing)
    first.start()
    while not attempts:
        time.sleep(0.005)
    other = threading.Thread(target=_read_after_the_wire, args=(slots, True, spans, "other", 0.02))
    other.start()
    for thread in (first, other):
        thread.join(timeout=5)
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 0.19
    assert spans["other"][1] < attempts[1]  # read while the failed call waited to retry


def test_an_error_answer_is_never_read_in_turn_and_no_turn_is_waited_for_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import driftcheck.concurrency as concurrency

    slots = Slots(8)
    spans: dict[str, tuple[float, float]] = {}
    slots.intake.acquire()  # a page being read, and read for longer than a turn is waited for
    monkeypatch.setattr(concurrency, "INTAKE_WAIT_SECONDS", 1.0)

    def refused() -> None:
        # A 401 (say) answered: the client refreshes its credentials, or raises; the pages of
        # other listings are read meanwhile.
        with calls_through(slots, RateLimiter(1000), urgent=True):
            with on_the_wire() as wire:
                wire.ok = False
            start = time.monotonic()
            time.sleep(0.1)
            spans["refused"] = (start, time.monotonic())

    began = time.monotonic()
    threads = [
        threading.Thread(target=refused),
        threading.Thread(target=_read_after_the_wire, args=(slots, True, spans, "page")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert spans["refused"][0] - began < 0.6  # not in turn: at once
    assert 0.95 < spans["page"][0] - began < 4  # its turn waited for, a while only
    slots.intake.release()
    assert slots._pages == 0


def test_work_nothing_waits_on_starts_once_the_run_waits_on_the_api_or_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import driftcheck.concurrency as concurrency

    monkeypatch.setattr(concurrency, "BUSY_AT_LATEST_SECONDS", 60.0)  # (not this test's case)
    slots = Slots(1)
    started = threading.Event()

    def parse() -> str:
        started.set()
        return "parsed"

    background = Background(parse, slots)
    read_page = threading.Event()

    def listing() -> None:
        with calls_through(slots, RateLimiter(1000), urgent=True):
            with on_the_wire():
                pass
            read_page.wait(5)  # the page is being read

    page = threading.Thread(target=listing)
    page.start()
    while not slots.intake.locked():
        time.sleep(0.005)
    slots.acquire()
    call = threading.Thread(target=slots.acquire, daemon=True)
    call.start()  # an ordinary call queues, but a listing's page is still being read
    assert not started.wait(0.2)
    read_page.set()  # read: the calls queued now wait on the API alone
    assert started.wait(5) and background.result() == "parsed"
    slots.release()
    page.join(timeout=5)
    call.join(timeout=5)
    assert not page.is_alive() and not call.is_alive()
    slots.settle()

    asked = Background(lambda: "read when asked", Slots(4))
    assert asked.result() == "read when asked"  # no call ever queued: run when asked for


def test_pages_that_keep_coming_hold_work_nothing_waits_on_back_a_second_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import driftcheck.concurrency as concurrency

    monkeypatch.setattr(concurrency, "BUSY_AT_LATEST_SECONDS", 0.3)
    slots = Slots(4)
    slots.page_started()  # a slow page, never in while this test runs
    started = threading.Event()
    Background(started.set, slots)
    assert not started.wait(0.1)
    assert started.wait(5)  # started all the same, once its wait was up
    slots.page_read()


def test_once_a_run_is_abandoned_no_call_of_it_goes_out_again() -> None:
    from driftcheck.concurrency import Abandoned, RateLimits, Workers

    workers = Workers(1, RateLimits({"run": 1000}))
    limiter = workers.limits.limiter("run", PROD)
    workers.slots.acquire()  # one call on the wire
    outcome: list[BaseException] = []

    def queued() -> None:
        try:
            with calls_through(workers.slots, limiter), on_the_wire():
                pass
        except Abandoned as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=queued)
    waiting.start()
    while not workers.slots._waiting:
        time.sleep(0.005)
    workers.close(wait=False)  # the run failed
    waiting.join(timeout=5)
    assert len(outcome) == 1  # the call waiting for a slot never went out
    with pytest.raises(Abandoned), calls_through(workers.slots, limiter), on_the_wire():
        pass  # nor does a later one (a retry of a call that was in flight)


def test_each_exchange_takes_the_limiter_and_holds_a_slot_only_on_the_wire(
    emulator: Start,
) -> None:
    from driftcheck.clients import build_clients

    server = emulator(large_estate(3))
    counted: list[int] = []
    slots = Slots(2)

    class Counting(RateLimiter):
        def acquire(self) -> None:
            counted.append(slots._free)  # the slot is already held when the call is counted
            super().acquire()

    with calls_through(slots, Counting(1000)):
        client = build_clients(pool_size=2).run
        names = [s.name for s in client.list_services(request={"parent": _PARENT})]
        for name in names:
            client.get_iam_policy(request={"resource": name})
    assert len(counted) == len(server.calls) == 1 + len(names)
    assert set(counted) == {1} and slots._free == 2


def test_no_call_is_repeated(emulator: Start, workdir: Path) -> None:
    server = emulator(large_estate(25, max_page_size=10))
    config = load_config(workdir / "driftcheck.yaml")
    with collection_context(config, concurrency=8) as context:
        collect_environments(config, ["production"], context)
    paths = [path for _method, path in server.calls]
    assert len(paths) == len(set(paths)) + 2  # the same list URL, one request per extra page
    assert len([p for p in paths if p.endswith(":getIamPolicy")]) == 25
    assert len([p for p in paths if p.endswith("/services")]) == 3


def test_rate_limiter_never_lets_more_than_its_quota_into_a_minute() -> None:
    now = [0.0]
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(per_minute=480, clock=lambda: now[0], sleep=sleep)
    for _ in range(480):
        limiter.acquire()
        sent.append(now[0])
    assert now[0] == 0.0  # a burst within the quota goes out at once
    for _ in range(1000):
        now[0] += 0.01
        limiter.acquire()
        sent.append(now[0])
    assert sent[480] >= 60.0  # the 481st waits for the first to leave the window
    for index, start in enumerate(sent):
        in_window = [t for t in sent[index:] if t < start + 60.0 - 1e-6]
        assert len(in_window) <= 480


def test_progress_is_silent_off_a_terminal_and_with_quiet() -> None:
    assert isinstance(progress_for(quiet=True), NullProgress)
    assert isinstance(progress_for(quiet=False), NullProgress)  # pytest's stderr is no tty


def test_rich_progress_draws_on_a_terminal() -> None:
    from rich.console import Console

    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=80))
    task = progress.task("acme-prod us-central1: services")
    task.grow(4)
    task.advance(2)
    progress.stop()
    assert "acme-prod us-central1: services" in buffer.getvalue()


def imported_modules(*args: str) -> set[str]:
    code = (
        "import sys\n"
        "from driftcheck.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in ("google", "grpc")}


def test_help_imports_no_google_or_grpc_module() -> None:
    modules = imported_modules("--help")
    assert "driftcheck.cli" in modules
    assert heavy(modules) == set()


def test_diff_imports_no_google_or_grpc_module(tmp_path: Path) -> None:
    from driftcheck.baseline import write_snapshot
    from driftcheck.model import Snapshot

    for name, timeout in (("a", 300), ("b", 60)):
        write_snapshot(
            tmp_path / f"{name}.yaml",
            Snapshot(
                environment=name,
                project="p",
                regions={"us-central1": "us-central1"},
                collected_at="t",
                tool_version="x",
                resources={"service/us-central1/api": {"template": {"timeout": timeout}}},
            ),
        )
    modules = imported_modules(
        "diff",
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
        "--out-dir",
        str(tmp_path / "out"),
    )
    # The comparison ran: the changed timeout is a finding.
    assert "template.timeout" in (tmp_path / "out" / "b-vs-a.json").read_text(encoding="utf-8")
    assert heavy(modules) == set()


def test_the_client_libraries_are_kept_out_of_garbage_collection_once_imported() -> None:
    # Every module, class and descriptor they bring lives as long as the process: a full
    # collection walking them again and again while the API is read is 8% of a small check.
    probe = (
        "import gc\n"
        "from driftcheck.clients import build_clients\n"
        "before = gc.get_freeze_count()\n"
        "build_clients()\n"
        "frozen = gc.get_freeze_count()\n"
        "build_clients()\n"
        "print(before, frozen, gc.get_freeze_count())\n"
    )
    endpoints = {
        "DRIFTCHECK_RUN_ENDPOINT": "http://127.0.0.1:9",
        "DRIFTCHECK_SECRETMANAGER_ENDPOINT": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **endpoints},
    )
    before, frozen, again = (int(n) for n in done.stdout.split())
    # the libraries' objects are frozen, once (a second set of clients freezes nothing more)
    assert before == 0 and frozen > 50_000 and again == frozen


def test_a_call_interrupted_while_it_waits_for_a_slot_loses_no_slot() -> None:
    slots = Slots(1)
    slots.acquire()

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(KeyboardInterrupt):
            slots.acquire()  # waits for the held slot; interrupted
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    slots.release()
    later = threading.Thread(target=slots.acquire, daemon=True)
    later.start()
    later.join(timeout=5)
    assert not later.is_alive()  # the slot went to a caller, not to the one interrupted


def test_thousands_of_secrets_start_no_more_threads_than_the_pools_hold(
    emulator: Start, workdir: Path
) -> None:
    from tests.factories import project, scenario, service

    count = 150
    services = []
    for i in range(count):
        body = service(f"svc-{i:03d}", PROD)
        body["template"]["containers"][0]["env"].append(
            {"name": "KEY", "valueSource": {"secretKeyRef": {"secret": f"k-{i:03d}"}}}
        )
        services.append(body)
    secrets = {f"k-{i:03d}": {"versions": [{"version": 1, "payload": "x"}]} for i in range(count)}
    emulator(
        scenario(
            projects={PROD: project(services, "111111111111", secrets=secrets)},
            latency_ms=20,
            max_page_size=50,
        )
    )
    config = load_config(workdir / "driftcheck.yaml")
    before = threading.active_count()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(threading.active_count())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with collection_context(config, concurrency=4) as context:
            snapshots = collect_environments(config, ["production"], context)
    finally:
        done.set()
    assert len([k for k in snapshots["production"].resources if k.startswith("secret/")]) == count
    # the pools and listing drivers (about 25 more), not a thread per secret read (about 57)
    assert max(peak) - before < 40
