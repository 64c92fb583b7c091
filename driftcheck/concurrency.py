"""Bounded concurrency and quota-aware rate limits for API calls.

Collection time is bounded by API latency and quotas, not CPU. Calls run on one bounded worker
pool; each (API, project[, region]) has its own token bucket set below the documented quota, so
that driftcheck never trips quotas it shares with gcloud, the console and Terraform.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from driftcheck.progress import NullProgress, Progress

T = TypeVar("T")
DEFAULT_CONCURRENCY = 16
ARRIVAL_MARGIN_SECONDS = 0.25


class RateLimiter:
    """A sliding window: at most ``per_minute`` calls in any 60 seconds.

    A burst within the quota goes out at once; the call after it waits until the oldest call
    of the window is a minute old. Unlike a token bucket that starts full, no 60-second window
    ever holds more than the quota, which driftcheck shares with gcloud, the console and deploys.
    """

    def __init__(
        self,
        per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quota = max(1, int(per_minute))
        # A call is counted when it leaves and reaches the API a little later, by a time that
        # varies (scheduling, the network): the window is kept that much longer, so that the
        # API, counting on its side, never sees more than the quota in 60 seconds either.
        self.window = 60.0 * self.quota / per_minute + ARRIVAL_MARGIN_SECONDS
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until one more call fits in the window."""
        while True:
            with self._lock:
                now = self._clock()
                # (a microsecond of slack: float time must not leave a call waiting on nothing)
                while self._sent and self._sent[0] <= now - self.window + 1e-6:
                    self._sent.popleft()
                if len(self._sent) < self.quota:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.window - now
            self._sleep(max(wait, 0.0))


@dataclass
class RateLimits:
    """One limiter per (API, project[, region]), created on first use."""

    per_minute: dict[str, float]
    _limiters: dict[tuple[str, ...], RateLimiter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def limiter(self, api: str, *scope: str) -> RateLimiter:
        """The limiter of ``api`` in ``scope`` (project, and region where quotas are regional)."""
        key = (api, *scope)
        with self._lock:
            if key not in self._limiters:
                self._limiters[key] = RateLimiter(self.per_minute[api])
            return self._limiters[key]


# The longest work nothing waits on yet waits for the run to wait on the API (see ``when_busy``).
BUSY_AT_LATEST_SECONDS = 1.0


class Abandoned(Exception):
    """The run a call belongs to was abandoned (it failed or was interrupted): the call does not
    go out, nor does any retry of it."""


class Slots:
    """The cap on API calls in flight, handed out in order, with a lane for calls that others
    wait on.

    A freed slot goes to the call that has waited longest, so that calls queued later (a
    secret's, while services are still read) are not starved by the pool's threads taking
    slots again as they free them; a listing's next page goes first, since the calls of its
    resources wait on it.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._lock = threading.Lock()
        self._urgent: deque[threading.Lock] = deque()
        self._waiting: deque[threading.Lock] = deque()
        # Told once the run waits on the API (see ``when_busy``).
        self._on_busy: list[Callable[[], object]] | None = []
        # Listings' pages on their way: queued for a slot, on the wire, or being read.
        self._pages = 0
        # Held by the one thread reading a listing's page (see ``on_the_wire``).
        self.intake = threading.Lock()
        self._closed = False
        self._timer: threading.Timer | None = None

    def close(self) -> None:
        """Abandon the run: calls waiting for a slot, and every later one, raise
        :class:`Abandoned` (a call in a retry's backoff ends at its next attempt)."""
        with self._lock:
            self._closed = True
            waiting = [*self._urgent, *self._waiting]
            self._urgent.clear()
            self._waiting.clear()
        for handed in waiting:
            handed.release()

    def when_busy(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once the run waits on the API, or now if it has: once no listing's
        page is on its way (every page listed so far read, or failed), or an ordinary call had
        to queue for a slot while none was, and at the latest ``BUSY_AT_LATEST_SECONDS`` after
        the first callback was registered (pages that keep coming, or one that is slow, do not
        hold the rest of the run back). From then on the interpreter has time to spare for work
        nothing waits on yet (see :class:`Background`); before, it reads the pages that the
        calls come from."""
        with self._lock:
            if self._on_busy is not None:
                if not self._on_busy:
                    self._timer = threading.Timer(BUSY_AT_LATEST_SECONDS, self._busy)
                    self._timer.daemon = True
                    self._timer.start()
                self._on_busy.append(callback)
                return
        callback()

    def _take_on_busy(self) -> list[Callable[[], object]]:
        """(Under the lock.) The callbacks not yet called, each to be called once, now."""
        busy, self._on_busy = self._on_busy or [], None
        return busy

    def _busy(self) -> None:
        with self._lock:
            busy = self._take_on_busy()
        for callback in busy:
            callback()

    def settle(self) -> None:
        """The run's calls are over: what has not started by now starts only when asked for."""
        with self._lock:
            self._take_on_busy()
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def page_started(self) -> None:
        """A listing's page is on its way (see ``on_the_wire``)."""
        with self._lock:
            self._pages += 1

    def page_read(self) -> None:
        """A listing's page has been read, or its exchange failed."""
        with self._lock:
            self._pages -= 1
            busy = [] if self._pages else self._take_on_busy()
        for callback in busy:
            callback()

    def acquire(self, urgent: bool = False) -> None:
        """Wait for a slot; an urgent call goes before every call that is not."""
        with self._lock:
            if self._closed:
                raise Abandoned("the run was abandoned")
            if self._free and not self._urgent and not self._waiting:
                self._free -= 1
                return
            handed = threading.Lock()
            handed.acquire()
            (self._urgent if urgent else self._waiting).append(handed)
            busy = [] if urgent or self._pages else self._take_on_busy()
        try:
            for callback in busy:
                callback()
            handed.acquire()  # released by ``release``, which hands this call its slot
        except BaseException:  # interrupted while waiting: leave the queue, or pass the slot on
            with self._lock:
                queue = self._urgent if urgent else self._waiting
                if handed in queue:
                    queue.remove(handed)
                    raise
            self.release()
            raise
        if self._closed:
            raise Abandoned("the run was abandoned")  # woken by ``close``, holding no slot

    def release(self) -> None:
        """Hand the slot to the longest-waiting call (an urgent one first), or free it."""
        with self._lock:
            queue = self._urgent or self._waiting
            if queue:
                queue.popleft().release()
            else:
                self._free += 1
                return
        # The call handed the slot must run to go out; this thread has CPU work ahead (reading
        # its answer) and would keep the interpreter for up to its switch interval (5 ms),
        # the slot idle meanwhile. Let the other go first.
        time.sleep(0)


_gate = threading.local()

# How long a listing's page waits for its turn to be read before it is read anyway.
INTAKE_WAIT_SECONDS = 1.0


@dataclass
class Wire:
    """One exchange, as ``on_the_wire`` sees it: whether the API answered with success (only
    a page that came is read; an error is raised, retried or refreshed, never read)."""

    ok: bool = True


def leave_intake() -> None:
    """This thread's listing page has been read: its call has returned, failed, or is about to
    go out again (a retry, after an answer it did not read)."""
    taken: tuple[Slots, bool] | None = getattr(_gate, "intake", None)
    if taken is not None:
        _gate.intake = None
        slots, held = taken
        if held:
            slots.intake.release()
        slots.page_read()


@contextmanager
def calls_through(slots: Slots, limiter: RateLimiter, urgent: bool = False) -> Iterator[None]:
    """API calls made on this thread meanwhile take one of ``slots`` and ``limiter`` each time
    an exchange goes out (every retry counts), and hold the slot while on the wire only:
    building a request and reading its answer are CPU work, done outside the cap."""
    previous = getattr(_gate, "value", None)
    _gate.value = (slots, limiter, urgent)
    try:
        yield
    finally:
        _gate.value = previous
        leave_intake()


@contextmanager
def on_the_wire() -> Iterator[Wire]:
    """Around one HTTP exchange (see ``lean_http``, which tells the :class:`Wire` how the API
    answered): the slot and limiter of :func:`calls_through`, if this thread is inside it."""
    wire = Wire()
    gate: tuple[Slots, RateLimiter, bool] | None = getattr(_gate, "value", None)
    if gate is None:
        yield wire
        return
    slots, limiter, urgent = gate
    leave_intake()  # (a further exchange of the same call)
    if urgent:
        slots.page_started()
    try:
        slots.acquire(urgent)
        try:
            # In the slot: the call goes out when the limiter counts it. Taken before, a call
            # could wait for a slot while the window moves on, and more than the quota would
            # reach the API in some 60 seconds.
            limiter.acquire()
            yield wire
        finally:
            slots.release()
    except BaseException:
        if urgent:
            slots.page_read()
        raise
    if urgent and not wire.ok:
        slots.page_read()
    elif urgent:
        # A listing's page is read (the client parses it, pure-Python work of tens of
        # milliseconds) by one thread at a time, until its call returns. Under the
        # interpreter's lock a dozen pages read at once all finish late, and the calls each
        # brings (its resources' IAM reads) wait on all of them; one at a time, the first
        # page's calls go out while the next is read. (The wait is bounded: the turn is an
        # order of work, never a condition of it.)
        _gate.intake = (slots, slots.intake.acquire(timeout=INTAKE_WAIT_SECONDS))


class DaemonPool:
    """A fixed pool of daemon threads: like ThreadPoolExecutor, but a thread stuck in a call
    never keeps the process from exiting (on Ctrl-C or SIGTERM driftcheck exits at once; every
    file it writes is atomic, so nothing is left half-written)."""

    def __init__(self, size: int, name: str = "driftcheck") -> None:
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        self._cancelled = False
        self._cancelling = threading.Lock()
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, function = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(exc)

    def submit(self, function: Callable[[], T]) -> Future[T]:
        """Run ``function`` on a pool thread (or not at all, once the pool's tasks are
        cancelled: its future is cancelled, and whoever waits on it is told)."""
        future: Future[T] = Future()
        with self._cancelling:
            if self._cancelled:
                future.cancel()
            else:
                self._tasks.put((future, function))
        return future

    def cancel_queued(self) -> None:
        """Cancel every task not yet started, and those submitted from now on (a run that
        failed or was interrupted: its threads still reading end instead of waiting)."""
        with self._cancelling:
            self._cancelled = True
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            if task is not None:
                task[0].cancel()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads once the queue is drained; wait for them unless told not to."""
        for _thread in self._threads:
            self._tasks.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


def run_all(functions: Iterable[Callable[[], T]], name: str) -> list[T]:
    """Run each function on its own daemon thread and return their results in order."""
    tasks = list(functions)
    pool = DaemonPool(max(1, len(tasks)), name)
    try:
        futures = [pool.submit(task) for task in tasks]
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False)


def start_bounded(function: Callable[[], T]) -> Future[T]:
    """Run ``function`` on a daemon thread of its own: its caller can stop waiting for it
    (``future.result(timeout=…)``) without the process ever waiting for it again."""
    pool = DaemonPool(1, "driftcheck-bounded")
    future = pool.submit(function)
    pool.shutdown(wait=False)
    return future


class Background(Generic[T]):
    """CPU work that nothing waits on yet (parsing the baselines, loading the renderers and the
    client libraries behind the VPC), run on a daemon thread of its own once the run waits on
    the API (see :meth:`Slots.when_busy`) or as soon as its result is asked for. Started at
    once, it would take the interpreter from the listings' pages that the run's calls wait on.
    """

    def __init__(self, function: Callable[[], T], slots: Slots) -> None:
        self.future: Future[T] = Future()
        self._function = function
        self._started = False
        self._lock = threading.Lock()
        slots.when_busy(self.start)

    def start(self) -> Future[T]:
        """Start it now if it has not started; its future."""
        with self._lock:
            if self._started:
                return self.future
            self._started = True
        try:
            start_bounded(self._run)
        except Exception as exc:  # noqa: BLE001 - no thread to be had: whoever asks is told
            self.future.set_exception(exc)
        return self.future

    def result(self) -> T:
        """Its result (its exception raised), started now if it had not."""
        return self.start().result()

    def _run(self) -> None:
        try:
            self.future.set_result(self._function())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
            self.future.set_exception(exc)


class Workers:
    """The worker pool every collector submits its API calls to, plus limits and progress."""

    def __init__(
        self,
        concurrency: int,
        limits: RateLimits,
        progress: Progress | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.limits = limits
        self.progress = progress or NullProgress()
        # More threads than slots: while ``concurrency`` calls are on the wire, others build
        # their requests or read their answers (see ``calls_through``).
        self._pool = DaemonPool(concurrency + max(2, concurrency // 4), "driftcheck")
        # Every call in flight holds a slot, list calls on their own threads included.
        self.slots = Slots(concurrency)

    def submit(self, function: Callable[[], T]) -> Future[T]:
        """Run ``function`` on the pool."""
        return self._pool.submit(function)

    def close(self, wait: bool = True) -> None:
        """Release the threads; after an interruption or a failure, without waiting for calls
        in flight, with the calls not yet started cancelled, and no call going out again (a
        retry included)."""
        if not wait:
            self._pool.cancel_queued()
            self.slots.close()
        self.slots.settle()
        self._pool.shutdown(wait=wait)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(wait=exc_type is None)
