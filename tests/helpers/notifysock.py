"""A stand-in for systemd's `$NOTIFY_SOCKET`: a real AF_UNIX datagram socket the tests read back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def notify_socket_at(path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    """A bound, non-blocking datagram socket and the environment that points sd_notify at it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    try:
        yield sock, {"NOTIFY_SOCKET": str(path)}
    finally:
        sock.close()


def drain(sock: socket.socket) -> list[bytes]:
    """Every datagram received so far, oldest first."""
    out = []
    while True:
        try:
            out.append(sock.recv(4096))
        except BlockingIOError:
            return out
