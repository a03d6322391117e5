"""PostgreSQL going away and coming back: a proxy between Treadle and the server stands in
for a server restart (the real one is shared by the whole test session)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest

import treadle as tr
from treadle.store import urls


class Proxy:
    """Forwards TCP connections to PostgreSQL until ``cut``; ``restore`` listens again on the
    same port, as a restarted server would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.port = 0
        self.restore()

    def restore(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                upstream = socket.create_connection(self._target)
                with self._lock:
                    self._connections += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._server is not None:
            # Shut down first: closing alone leaves a blocked accept() accepting.
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[Proxy, str]]:
    parts = urllib.parse.urlsplit(postgres_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    url = urllib.parse.urlunsplit(
        parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
    )
    yield proxy, url
    proxy.cut()


def test_a_store_waits_out_a_restart_and_says_so_once(
    proxied: tuple[Proxy, str], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, url = proxied
    store = urls.open_store(url)
    try:
        with store.transaction() as tx:
            assert tx.fetch_one("get_meta", {"key": "schema_version"}) is not None
        proxy.cut()
        threading.Timer(1.0, proxy.restore).start()
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="treadle.store"):
            with store.transaction() as tx:
                assert tx.fetch_one("get_meta", {"key": "schema_version"}) is not None
        assert time.monotonic() - began >= 0.9
        messages = [record.getMessage() for record in caplog.records]
        assert len([m for m in messages if m.startswith("lost PostgreSQL")]) == 1, messages
        assert len([m for m in messages if m.startswith("reconnected")]) == 1, messages
    finally:
        store.close()


@tr.step
async def outage_step(i: int) -> int:
    return i * 2


@tr.workflow
async def outage_wf(ctx: tr.Context, i: int) -> int:
    return await ctx.step(outage_step, i)


def test_a_worker_rides_out_a_restart(proxied: tuple[Proxy, str]) -> None:
    proxy, url = proxied
    with tr.Engine(url) as engine, engine.worker(poll_interval=0.1, lease_seconds=2.0):
        assert engine.result(engine.start(outage_wf, 1), timeout=10) == 2
        proxy.cut()
        time.sleep(1.0)
        proxy.restore()
        # The engine's own connection died too: its next call reconnects.
        assert engine.result(engine.start(outage_wf, 2), timeout=20) == 4
