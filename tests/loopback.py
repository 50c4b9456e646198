"""Loopback services for tests that talk HTTP: a real server on 127.0.0.1 and a port that never answers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve(handler_class: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``handler_class`` on a free port of ``host`` (a loopback address) in a daemon thread; yield the base URL.

    On Linux every 127.x.y.z address is the loopback: 127.0.0.2 is another host for a client.
    """
    server = ThreadingHTTPServer((host, 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_port() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers; yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
