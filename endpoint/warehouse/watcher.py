"""Notice clients that hang up while their query runs (one epoll thread for all sockets)."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Iterator

_GONE = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


class DisconnectWatcher:
    """`with watcher.watching(sock, on_gone): run_query()` calls `on_gone()` (from the watcher
    thread) if the peer closes the connection before the block ends."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._watched: dict[int, tuple[socket.socket, Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="disconnect-watcher", daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def watching(self, sock: socket.socket, on_gone: Callable[[], None]) -> Iterator[None]:
        fd = sock.fileno()
        with self._lock:
            self._watched[fd] = (sock, on_gone)
            self._epoll.register(fd, select.EPOLLIN | _GONE | select.EPOLLONESHOT)
        try:
            yield
        finally:
            with self._lock:
                self._watched.pop(fd, None)
                with contextlib.suppress(OSError, ValueError):
                    self._epoll.unregister(fd)

    def close(self) -> None:
        self._closed = True

    def _loop(self) -> None:
        while not self._closed:
            try:
                events = self._epoll.poll(0.5)
            except InterruptedError:  # pragma: no cover
                continue
            for fd, mask in events:
                with self._lock:
                    entry = self._watched.get(fd)
                if entry is None:
                    continue
                sock, on_gone = entry
                gone = bool(mask & _GONE)
                if not gone:
                    try:
                        gone = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
                    except BlockingIOError:
                        gone = False
                    except OSError:
                        gone = True
                if gone:
                    with self._lock:
                        self._watched.pop(fd, None)
                    # never block the watcher: a kill may wait on the engine
                    threading.Thread(target=_quietly, args=(on_gone,), daemon=True).start()
                else:
                    self._rearm(fd)

    def _rearm(self, fd: int) -> None:
        """EPOLLONESHOT disarmed `fd` on a wake-up that was not a hang-up (a spurious wake-up, or
        the client sent more bytes): watch it again for hang-ups only, so pending bytes cannot
        wake the loop over and over."""
        with self._lock:
            if fd in self._watched:
                with contextlib.suppress(OSError, ValueError):
                    self._epoll.modify(fd, _GONE | select.EPOLLONESHOT)


def _quietly(fn: Callable[[], None]) -> None:
    with contextlib.suppress(Exception):
        fn()
