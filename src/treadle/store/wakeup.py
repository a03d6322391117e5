"""Cross-process wake-ups for databases without LISTEN/NOTIFY, such as SQLite.

Every listener binds a Unix datagram socket in a folder named after the database file;
``notify`` sends each one a datagram naming the notification's topics (``protocol.payload_of``),
and a listener keeps only the topics it asked for. A datagram naming none, such as the single
byte an older Treadle sends, wakes every listener. Delivery is best effort: listeners also
poll, so a lost datagram only delays work by one poll interval, it never loses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
from collections.abc import Collection

from treadle.store import protocol
from treadle.store.protocol import Topic

# Longer than any payload this version sends; a longer one, cut short, reads as "all topics".
MESSAGE_BYTES = 256


def folder_for(database_path: str) -> str:
    digest = hashlib.sha1(os.path.abspath(database_path).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"treadle-wake-{digest}")


class Notifier:
    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sender.setblocking(False)

    def notify(self, topics: Collection[Topic]) -> None:
        if not topics:
            return
        try:
            names = os.listdir(self._folder)
        except FileNotFoundError:
            return
        message = protocol.payload_of(topics).encode()
        for name in names:
            path = os.path.join(self._folder, name)
            try:
                self._sender.sendto(message, path)
            except (ConnectionRefusedError, FileNotFoundError):
                # The listener's process is gone; its socket file is litter.
                with contextlib.suppress(OSError):
                    os.unlink(path)
            except (BlockingIOError, OSError):
                pass  # its buffer is full: it has a wake-up pending already

    def close(self) -> None:
        self._sender.close()


class SocketListener:
    def __init__(self, folder: str, topics: Collection[Topic]) -> None:
        self._folder = folder
        self._topics = frozenset(topics)
        self._path = os.path.join(folder, f"{os.getpid()}-{os.urandom(4).hex()}.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for _ in range(3):
            os.makedirs(folder, exist_ok=True)
            try:
                self._socket.bind(self._path)
                break
            except FileNotFoundError:
                continue  # the last listener removed the folder just now: make it again
        else:
            self._socket.bind(self._path)
        self._socket.setblocking(False)

    def fileno(self) -> int:
        return self._socket.fileno()

    def wait(self, timeout: float) -> bool:
        return protocol.wait_for_topics(self, timeout)

    def drain(self) -> set[Topic]:
        heard: set[Topic] = set()
        with contextlib.suppress(BlockingIOError):
            while True:
                message = self._socket.recv(MESSAGE_BYTES)
                heard |= protocol.topics_of(message.decode(errors="replace"))
        return heard & self._topics

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self._path)
        with contextlib.suppress(OSError):
            os.rmdir(self._folder)  # only succeeds for the last listener
