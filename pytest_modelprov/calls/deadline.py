"""A deadline over a whole HTTP call, not just over each read.

The HTTP library's timeout bounds every single read: a server that trickles a few bytes
every fraction of a second (a wedged proxy, a hostile endpoint) holds a call forever, and
every other worker waiting on that cache key's lock waits with it. Here the network
streams of the SDK's connection pool cap every read, write and connect by what is left
of the calling thread's deadline, and fail with the library's own ReadTimeout once it is
spent, so the SDK reports it as a timeout like any other and the answer is never cached.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation of this thread inside the block ends ``seconds`` from now."""
    previous = getattr(_local, "until", None)
    _local.until = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.until = previous


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    until: float | None = getattr(_local, "until", None)
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise error("the call took longer than its timeout in all")
    return left if timeout is None else min(timeout, left)


class _Stream:
    def __init__(self, inner: Any, error: type[Exception]) -> None:
        self._inner = inner
        self._error = error

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, _remaining(timeout, self._error))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, self._error))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _Stream:
        left = _remaining(timeout, self._error)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left), self._error)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend:
    def __init__(self, inner: Any, error: type[Exception]) -> None:
        self._inner = inner
        self._error = error

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> _Stream:
        stream = self._inner.connect_tcp(
            host, port, _remaining(timeout, self._error), local_address, socket_options
        )
        return _Stream(stream, self._error)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> _Stream:
        stream = self._inner.connect_unix_socket(
            path, _remaining(timeout, self._error), socket_options
        )
        return _Stream(stream, self._error)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(http_client: Any) -> bool:
    """Put the deadline under every connection pool of an httpx(-like) client.

    Returns False when the client has no pool this understands (another HTTP library):
    calls then have the per-read timeout only.
    """
    transports = [getattr(http_client, "_transport", None)]
    transports += list(getattr(http_client, "_mounts", {}).values())
    done = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None or isinstance(backend, _Backend):
            continue
        try:
            library = importlib.import_module(type(pool).__module__.partition(".")[0])
            error = library.ReadTimeout
        except (ImportError, AttributeError):
            continue
        setattr(pool, "_network_backend", _Backend(backend, error))  # noqa: B010
        done = True
    return done
