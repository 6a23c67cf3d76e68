"""A real HTTP server on 127.0.0.1 that serves one file and misbehaves on request.

Used by the download tests: ``ArchiveServer(payload)`` serves ``payload`` at ``server.url``. Each
request takes the next behaviour from ``server.plan`` (then ``server.default``):

- ``"ok"``: the whole file (or, with ``support_range`` and a ``Range: bytes=K-`` header, a 206
  with the rest from byte K);
- ``"no-length"``: the whole file without a Content-Length header;
- ``"truncate"``: announces the full length, sends half of it, closes the connection;
- ``"truncate-no-length"``: no Content-Length, half the file, closes the connection;
- ``"drop"``: closes the connection without answering;
- ``"stall"``: sends the headers and a few bytes, then goes silent for ``stall_s`` seconds;
- ``"drip"``: sends the file 1 KiB at a time with a pause after each piece (a slow download);
- ``"404"``, ``"503"``: that HTTP status.

Every request is recorded in ``server.requests`` as ``{"path": ..., "headers": {...}}``.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class ArchiveServer:
    """Serve ``payload`` at ``/<name>`` on an ephemeral port of 127.0.0.1 (use as a context)."""

    def __init__(self, payload: bytes, name: str = "cifar-10-python.tar.gz") -> None:
        self.payload = payload
        self.name = name
        self.plan: list[str] = []
        self.default = "ok"
        self.support_range = False
        self.stall_s = 1.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        # A client that hangs up mid-body makes the handler fail; that is expected here.
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}/{self.name}"

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _next_behaviour(self, path: str, headers: dict[str, str]) -> str:
        with self._lock:
            self.requests.append({"path": path, "headers": headers})
            return self.plan.pop(0) if self.plan else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                behaviour = server._next_behaviour(self.path, dict(self.headers))
                body = server.payload
                if self.path != f"/{server.name}" or behaviour == "404":
                    self.send_error(404, "Not Found")
                    return
                if behaviour == "503":
                    self.send_error(503, "Service Unavailable")
                    return
                if behaviour == "drop":
                    self.close_connection = True
                    return
                start = 0
                range_header = self.headers.get("Range", "")
                if server.support_range and range_header.startswith("bytes="):
                    start = int(range_header[len("bytes=") :].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                rest = body[start:]
                self.send_header("Content-Type", "application/x-gzip")
                if behaviour not in ("no-length", "truncate-no-length"):
                    self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                if behaviour in ("truncate", "truncate-no-length"):
                    self.wfile.write(rest[: len(rest) // 2])
                elif behaviour == "stall":
                    self.wfile.write(rest[:100])
                    self.wfile.flush()
                    time.sleep(server.stall_s)
                elif behaviour == "drip":
                    for i in range(0, len(rest), 1024):
                        self.wfile.write(rest[i : i + 1024])
                        self.wfile.flush()
                        time.sleep(0.02)
                else:
                    self.wfile.write(rest)
                self.close_connection = True

        return Handler
