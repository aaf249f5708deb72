"""Minimal HTTP/1.1 clients on h11, light enough for thousands of streams."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import anyio
import h11

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from types import TracebackType


class KeepAliveClient:
    """Sends requests one after another over one connection and returns whole bodies."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 10.0) -> None:
        self._host = host
        self._socket = socket.create_connection((host, port), timeout=timeout_s)
        self._connection = h11.Connection(our_role=h11.CLIENT)

    def __enter__(self) -> KeepAliveClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._socket.close()

    def post_json(
        self, path: str, value: Any, *, headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[int, bytes]:
        """POST a JSON body; return the status and the whole response body."""
        body = json.dumps(value).encode()
        request_headers = [
            ("host", self._host),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *headers,
        ]
        outgoing = self._connection.send(
            h11.Request(method="POST", target=path, headers=request_headers)
        )
        outgoing += self._connection.send(h11.Data(data=body))
        outgoing += self._connection.send(h11.EndOfMessage())
        self._socket.sendall(outgoing)

        status = 0
        chunks: list[bytes] = []
        while True:
            event = self._connection.next_event()
            if event is h11.NEED_DATA:
                self._connection.receive_data(self._socket.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection mid-response")
        self._connection.start_next_cycle()
        return status, b"".join(chunks)


async def stream_lines(
    host: str, port: int, path: str, value: Any, *, headers: Sequence[tuple[str, str]] = ()
) -> AsyncIterator[tuple[int, str]]:
    """POST JSON on a new connection; yield `(arrival ns, line)` for each line of the body.

    Lighter than a pooled client, so that hundreds of concurrent streams measure the server
    rather than the client. The arrival time is CLOCK_MONOTONIC when the bytes were read.
    """
    body = json.dumps(value).encode()
    request_headers = [
        ("host", host),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("connection", "close"),
        *headers,
    ]
    connection = h11.Connection(our_role=h11.CLIENT)
    async with await anyio.connect_tcp(host, port) as stream:
        outgoing = connection.send(h11.Request(method="POST", target=path, headers=request_headers))
        outgoing += connection.send(h11.Data(data=body))
        outgoing += connection.send(h11.EndOfMessage())
        await stream.send(outgoing)
        pending = b""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                try:
                    received = await stream.receive(65536)
                except anyio.EndOfStream:
                    received = b""
                connection.receive_data(received)
            elif isinstance(event, h11.Response):
                if event.status_code != 200:
                    raise ConnectionError(f"status {event.status_code}")
            elif isinstance(event, h11.Data):
                arrival_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                *lines, pending = (pending + bytes(event.data)).split(b"\n")
                for line in lines:
                    yield arrival_ns, line.decode().removesuffix("\r")
            elif isinstance(event, h11.EndOfMessage):
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection mid-response")
