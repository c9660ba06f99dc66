"""Loopback ports for test servers, without races between picking a port and using it.

A port found by binding port 0 and closing the socket is free only at that moment:
another test run (or another test's server) may take it before our server binds it.
Servers that can bind port 0 themselves should; `ReservedPort` covers the rest:
a socket bound to the port that never listens, so connections to it are refused at
once (an outage, or "nothing listening") and the kernel hands the port to nobody
who asks for a free one (bind to port 0) until it is released.
"""

from __future__ import annotations

import errno
import socket
import time


class ReservedPort:
    """Holds a loopback port (a free one by default) until `release()`."""

    def __init__(self, port: int = 0, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = _bind(port)
                break
            except OSError as err:
                # A server that has just exited may still be closing its listening socket.
                if err.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port: int = self._sock.getsockname()[1]

    def release(self) -> None:
        self._sock.close()

    def __enter__(self) -> ReservedPort:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _bind(port: int) -> socket.socket:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
        return sock
    except OSError as err:
        sock.close()
        if err.errno != errno.EADDRINUSE or port == 0:
            raise
    # Connections the old server closed linger in TIME_WAIT on the port; SO_REUSEADDR
    # binds past them (and still keeps port-0 pickers away: the socket never listens).
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock
