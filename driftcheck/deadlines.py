"""Every HTTP exchange bounded in total time, not per read.

requests (under the google-cloud REST transports) applies its timeout to each socket read: a
server that trickles one byte a second never times out. Here each exchange gets a deadline (its
timeout, from the moment it starts) in a thread-local, and the sockets of our connection pools
are wrapped so that every read waits at most until that deadline. A read past it raises
``socket.timeout``, which requests reports as a read timeout: retried within the bounded retry
time like any other, then recorded as a collection error.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


MAX_EXCHANGE_BYTES = 256 * 1024 * 1024  # no API answer driftcheck reads comes near this


class AnswerTooLarge(OSError):
    """An answer that keeps coming past MAX_EXCHANGE_BYTES (an endless chunked body)."""


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Bound every socket read on this thread to ``seconds`` from now (None: no bound), and
    the bytes read in the exchange to MAX_EXCHANGE_BYTES."""
    previous = getattr(_local, "deadline", None), getattr(_local, "budget", None)
    _local.deadline = None if seconds is None else time.monotonic() + seconds
    _local.budget = MAX_EXCHANGE_BYTES
    try:
        yield
    finally:
        _local.deadline, _local.budget = previous


def _spend(count: int) -> None:
    budget = getattr(_local, "budget", None)
    if budget is None:
        return
    _local.budget = budget - count
    if _local.budget < 0:
        raise AnswerTooLarge(f"the answer is larger than {MAX_EXCHANGE_BYTES} bytes")


def remaining() -> float | None:
    """Seconds left before this thread's deadline, or None without one."""
    until = getattr(_local, "deadline", None)
    return None if until is None else until - time.monotonic()


class DeadlineSocket:
    """A socket whose reads never outlast the current thread's deadline."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._read_timeout: float | None = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, value: float | None) -> None:
        """Remember the per-read timeout asked for; reads shorten it to the deadline."""
        self._read_timeout = value
        self._sock.settimeout(value)

    def _arm(self) -> None:
        left = remaining()
        if left is None:
            return
        if left <= 0:
            raise TimeoutError("the exchange took longer than its total timeout")
        limit = left if self._read_timeout is None else min(left, self._read_timeout)
        self._sock.settimeout(limit)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read, waiting no longer than the deadline allows, within the exchange's budget."""
        self._arm()
        count = int(self._sock.recv_into(buffer, nbytes, flags))
        _spend(count)
        return count

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Read, waiting no longer than the deadline allows, within the exchange's budget."""
        self._arm()
        data = bytes(self._sock.recv(bufsize, flags))
        _spend(len(data))
        return data

    def makefile(self, mode: str = "r", buffering: int | None = None, **_kwargs: Any) -> Any:
        """A buffered reader whose reads go through :meth:`recv_into`."""
        if "r" not in mode or "w" in mode:
            return self._sock.makefile(mode, buffering, **_kwargs)
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)


def deadline_adapter(pool_maxsize: int) -> Any:
    """A requests adapter whose connections read through :class:`DeadlineSocket`."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class DeadlineHTTPConnection(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = DeadlineSocket(self.sock)

    class DeadlineHTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = DeadlineSocket(self.sock)

    class DeadlineHTTPPool(HTTPConnectionPool):
        ConnectionCls = DeadlineHTTPConnection

    class DeadlineHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = DeadlineHTTPSConnection

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": DeadlineHTTPPool,
                "https": DeadlineHTTPSPool,
            }

    return DeadlineAdapter(pool_connections=4, pool_maxsize=pool_maxsize)
