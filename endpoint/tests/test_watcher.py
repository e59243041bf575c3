"""The disconnect watcher: a hang-up is noticed even after the client sent more bytes."""

from __future__ import annotations

import socket
import threading
import time

from warehouse.watcher import DisconnectWatcher


def test_hang_up_after_extra_bytes_is_noticed() -> None:
    watcher = DisconnectWatcher()
    server, client = socket.socketpair()
    gone = threading.Event()
    try:
        with watcher.watching(server, gone.set):
            client.sendall(b"x")  # wakes the watcher without a hang-up
            time.sleep(1.0)
            assert not gone.is_set()
            client.close()
            assert gone.wait(5), "the hang-up after the extra byte went unnoticed"
    finally:
        watcher.close()
        server.close()


def test_a_slow_callback_does_not_delay_other_hang_ups() -> None:
    watcher = DisconnectWatcher()
    pairs = [socket.socketpair() for _ in range(2)]
    release, second = threading.Event(), threading.Event()
    try:
        with (
            watcher.watching(pairs[0][0], lambda: release.wait(10)),
            watcher.watching(pairs[1][0], second.set),
        ):
            pairs[0][1].close()
            time.sleep(0.3)
            pairs[1][1].close()
            assert second.wait(3), "the second hang-up waited for the first callback"
    finally:
        release.set()
        watcher.close()
        for server, client in pairs:
            server.close()
            client.close()
