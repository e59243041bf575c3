"""Minimal HTTP/1.1 wire handling for the endpoint: request head, streamed bodies (length or
chunked), single-write responses and chunked responses."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit

MAX_LINE = 16 * 1024 * 1024  # URLs may carry a whole query
MAX_HEADERS = 200
READ_SIZE = 1024 * 1024

REASONS = {
    100: "Continue",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


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
    body_consumed: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path or "/"
        self.params = dict(parse_qsl(parts.query, keep_blank_values=True))

    def body_consumed_or_empty(self) -> bool:
        """Whether the connection is positioned at the next request."""
        if self.body_consumed:
            return True
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return False
        return self.headers.get("content-length", "0").strip() in ("", "0")

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def read_request(rfile: BinaryIO) -> Request | None:
    """Read a request head; None on a clean close between requests."""
    line = rfile.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):  # tolerate stray blank lines between requests
        line = rfile.readline(MAX_LINE)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise BadRequestError("request line too long or truncated")
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequestError(f"malformed request line: {line[:100]!r}") from None
    if not version.startswith("HTTP/1."):
        raise BadRequestError(f"unsupported protocol {version[:20]}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = rfile.readline(MAX_LINE)
        if not line:
            raise ClientGoneError
        if line in (b"\r\n", b"\n"):
            return Request(method.upper(), target, version, headers)
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise BadRequestError(f"malformed header line: {line[:100]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raise BadRequestError("too many headers")


def body_chunks(req: Request, rfile: BinaryIO, sock: socket.socket) -> Iterator[bytes]:
    """Yield the raw request body (before Content-Encoding) as it arrives."""
    if req.headers.get("expect", "").lower() == "100-continue":
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in req.headers.get("transfer-encoding", "").lower():
        yield from _chunked(rfile)
    else:
        length = req.headers.get("content-length")
        if length:
            try:
                remaining = int(length)
            except ValueError:
                raise BadRequestError(f"bad Content-Length {length[:30]}") from None
            while remaining > 0:
                data = rfile.read(min(remaining, READ_SIZE))
                if not data:
                    raise ClientGoneError
                remaining -= len(data)
                yield data
    req.body_consumed = True


def _chunked(rfile: BinaryIO) -> Iterator[bytes]:
    while True:
        line = rfile.readline(1024)
        if not line:
            raise ClientGoneError
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequestError(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            while True:  # trailers
                trailer = rfile.readline(MAX_LINE)
                if not trailer:
                    raise ClientGoneError
                if trailer in (b"\r\n", b"\n"):
                    return
        while size > 0:
            data = rfile.read(min(size, READ_SIZE))
            if not data:
                raise ClientGoneError
            size -= len(data)
            yield data
        if rfile.readline(4) not in (b"\r\n", b"\n"):
            raise BadRequestError("chunk not followed by CRLF")


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


def head_bytes(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send_all(sock: socket.socket, buffers: list[bytes]) -> None:
    """Write several buffers with as few syscalls as possible (no concatenation copies)."""
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


def chunk_frame(data: bytes) -> list[bytes]:
    return [f"{len(data):x}\r\n".encode(), data, b"\r\n"]
