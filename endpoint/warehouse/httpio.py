"""HTTP/1.1 framing with h11 over a socket the server keeps (the disconnect watcher polls it):
request heads, streamed bodies (length or chunked), whole and chunked responses, keep-alive."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import h11

MAX_HEAD = 16 * 1024 * 1024  # URLs may carry a whole query
READ_SIZE = 1024 * 1024


class ClientGoneError(Exception):
    """The client closed the connection or sent a truncated request."""


class BadRequestError(Exception):
    """The request is not valid HTTP."""


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)
    query_string: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path or "/"
        self.query_string = parts.query
        # SQL in the URL reaches the engine byte for byte (see engine.wire)
        self.params = dict(parse_qsl(parts.query, keep_blank_values=True, errors="surrogateescape"))


class HttpConnection:
    """One client connection: h11's state machine fed from, and written to, `sock`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._eof = False

    def _next_event(self) -> object:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._eof:  # closed in the middle of a request
                    raise ClientGoneError from None
                raise BadRequestError(str(exc)) from None
            if event is not h11.NEED_DATA:
                return event
            data = self.sock.recv(READ_SIZE)
            self._eof = not data
            self.h11.receive_data(data)

    def read_request(self) -> Request | None:
        """The next request's head; None on a clean close between requests."""
        event = self._next_event()
        if isinstance(event, h11.ConnectionClosed):
            return None
        if not isinstance(event, h11.Request):
            raise BadRequestError(f"unexpected {type(event).__name__}")
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key, text = name.decode("latin-1"), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return Request(
            event.method.decode("latin-1"),
            event.target.decode("latin-1"),
            f"HTTP/{event.http_version.decode()}",
            headers,
        )

    def body(self) -> Iterator[bytes]:
        """The raw request body (before Content-Encoding) as it arrives."""
        if self.h11.they_are_waiting_for_100_continue:
            self._send(self.head(100, []))
        while True:
            event = self._next_event()
            if isinstance(event, h11.Data):
                yield event.data
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise ClientGoneError

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """A whole response (headers carry Content-Length)."""
        buffers = self.head(status, headers)
        if body:
            buffers += self.h11.send_with_data_passthrough(h11.Data(data=body))
        buffers += self.h11.send_with_data_passthrough(h11.EndOfMessage())
        self._send(buffers)

    def head(self, status: int, headers: list[tuple[str, str]]) -> list[bytes]:
        """The encoded response head, to send with the first body bytes."""
        event_type = h11.InformationalResponse if status < 200 else h11.Response
        return list(
            self.h11.send_with_data_passthrough(event_type(status_code=status, headers=headers))
        )

    def chunk(self, data: bytes) -> list[bytes]:
        """One body piece, framed (chunked or counted, as the head said)."""
        return list(self.h11.send_with_data_passthrough(h11.Data(data=data)))

    def end(self) -> list[bytes]:
        return list(self.h11.send_with_data_passthrough(h11.EndOfMessage()))

    def send(self, buffers: list[bytes]) -> None:
        self._send(buffers)

    def reusable(self) -> bool:
        """After a response: start the next request cycle if both sides finished cleanly (a
        request body not read to its end, unless already buffered, closes the connection)."""
        while self.h11.their_state is h11.SEND_BODY:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError:
                return False
            if event is h11.NEED_DATA or not isinstance(event, h11.Data | h11.EndOfMessage):
                return False
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False

    @property
    def request_finished(self) -> bool:
        """Whether the request's body has been read to its end."""
        return self.h11.their_state is h11.DONE

    def _send(self, buffers: list[bytes]) -> None:
        send_all(self.sock, buffers)


def coalesce(chunks: Iterator[bytes], size: int = READ_SIZE) -> Iterator[bytes]:
    """Merge small chunks so that the engine gets fewer, larger appends."""
    pending: list[bytes] = []
    total = 0
    for chunk in chunks:
        if not pending and len(chunk) >= size:
            yield chunk
            continue
        pending.append(chunk)
        total += len(chunk)
        if total >= size:
            yield b"".join(pending)
            pending, total = [], 0
    if pending:
        yield b"".join(pending)


def send_all(sock: socket.socket, buffers: list[bytes]) -> None:
    """Write several buffers with as few syscalls as possible (no concatenation copies)."""
    buffers = [b for b in buffers if b]
    if not buffers:
        return
    total = sum(len(b) for b in buffers)
    sent = sock.sendmsg(buffers)
    if sent == total:
        return
    views = [memoryview(b) for b in buffers]
    while views:
        if sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
            continue
        views[0] = views[0][sent:]
        sent = sock.sendmsg(views)
