"""A real HTTP server around the backend: auth, JSON, faults, persistence."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pulumi_flow.emulator import spec, urls
from pulumi_flow.emulator.exceptions import EmulatorError
from pulumi_flow.emulator.faults import FaultPlan
from pulumi_flow.emulator.models import MithrilBackend, Settings
from pulumi_flow.emulator.records import PROJECT_NAME
from pulumi_flow.emulator.responses import (
    MithrilResponses,
    Request,
    RequestLog,
    Response,
    validation_error,
)

CONTROL_PREFIX = "/_emulator/"
KEY_PREFIX = "fkey_"


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle on, the body waits for the client's delayed ACK
    # (40 ms on Linux), which made every request to the emulator take 40 ms.
    disable_nagle_algorithm = True

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """How long a client may take to send its request: then a 408, never a thread held forever."""
        return self.server.emulator.backend.settings.request_timeout

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def __getattr__(self, name: str) -> Any:
        # Any other method (HEAD, OPTIONS, TRACE, ...) gets the same JSON answers, a 405 with `Allow`
        # where the path exists, not the standard library's HTML 501.
        if name.startswith("do_"):
            return lambda: self._serve(name[3:])
        raise AttributeError(name)

    def _serve(self, method: str) -> None:
        try:
            self._serve_request(method)
        except Exception as exc:  # noqa: BLE001 - an answer, never a dropped connection
            with contextlib.suppress(OSError):
                self._send(Response(500, {"detail": f"emulator error: {type(exc).__name__}: {exc}"}))

    def _read_body(self) -> bytes | Response:
        """The request body, or the answer that refuses it: never a read that hangs or a socket closed."""
        header = self.headers.get("Content-Length")
        if header is None:
            return b""
        if not header.isdigit():
            return Response(400, {"detail": f"Content-Length must be a whole number, got {header!r}"})
        length = int(header)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._discard(min(length, MAX_DISCARD_BYTES))  # so that the client, still sending, reads the answer
            return Response(413, {"detail": f"request body of {length} bytes is over the {MAX_BODY_BYTES} limit"})
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            return Response(408, {"detail": f"the request body did not arrive within {self.timeout:g} s"})
        if len(raw) < length:
            self.close_connection = True
            return Response(400, {"detail": f"Content-Length says {length} bytes, the body had {len(raw)}"})
        return raw

    def _discard(self, length: int) -> None:
        with contextlib.suppress(OSError):
            while length > 0:
                chunk = self.rfile.read(min(length, 65536))
                if not chunk:
                    return
                length -= len(chunk)

    def _serve_request(self, method: str) -> None:
        emulator = self.server.emulator
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        body_or_refusal = self._read_body()
        if isinstance(body_or_refusal, Response):
            self._send(body_or_refusal)
            return
        raw = body_or_refusal
        control = path.startswith(CONTROL_PREFIX)

        if not control:
            rule = emulator.faults.take(method, path)
            if rule is not None and rule.kind == "delay":
                time.sleep(rule.delay)
            elif rule is not None and rule.kind == "drop":
                emulator.log.record(method, path, 0, query=split.query)
                self.close_connection = True
                self.connection.close()
                return
            elif rule is not None and rule.kind == "status":
                emulator.log.record(method, path, rule.status, query=split.query)
                headers = {"Retry-After": f"{rule.retry_after:g}"} if rule.retry_after is not None else {}
                self._send(Response(rule.status, {"detail": rule.body or f"injected fault {rule.status}"}, headers))
                return
        else:
            rule = None

        response = self._dispatch(method, path, split.query, raw)
        if not control and method != "GET" and response.status < 400:
            emulator.persist()
        if rule is not None and rule.kind == "accept_then_fail":
            response = Response(rule.status, {"detail": rule.body or f"injected fault {rule.status} after the "
                                                                    "request took effect"})
        if not control:
            emulator.log.record(method, path, response.status, response.body, split.query)  # what the client saw
        self._send(response)

    def _dispatch(self, method: str, path: str, query: str, raw: bytes) -> Response:
        emulator = self.server.emulator
        if not path.startswith(CONTROL_PREFIX) and not emulator.authorized(self.headers.get("Authorization")):
            return Response(401, {"detail": "missing or invalid API key"})
        resolved = urls.resolve(method, path)
        if resolved is None:
            if urls.path_known(path):
                allowed = ", ".join(urls.allowed_methods(path))
                return Response(405, {"detail": f"{method} is not allowed on {path}; allowed: {allowed}"},
                                {"Allow": allowed})
            if urls.mithril_route(method, path):
                # A real Mithril route: say so, so that a client can tell it from a missing resource.
                return Response(501, {"detail": f"{method} {path} is a Mithril API route that this emulator does "
                                                f"not emulate (not emulated)"})
            return Response(404, {"detail": f"no route for {method} {path}"})
        handler, params = resolved
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            return validation_error(EmulatorError(422, "request body is not valid JSON, or nests too deeply",
                                                  "body"))
        if not path.startswith(CONTROL_PREFIX):
            problems = spec.request_problems(method, path, parse_qs(query), body)
            if problems:
                return Response(422, {"detail": problems})  # the spec's HTTPValidationError
        request = Request(method=method, path=path, query=parse_qs(query),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body, params=params)
        try:
            return getattr(emulator.responses, handler)(request)
        except EmulatorError as err:
            return validation_error(err)

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None and response.status == 204 else json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        if response.status != 204:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if payload and self.command != "HEAD":  # a HEAD answer has headers only
            self.wfile.write(payload)


MAX_BODY_BYTES = 1024 * 1024  # a bid with a 10,000-character script is a few KB
MAX_DISCARD_BYTES = 64 * 1024 * 1024  # read (and drop) at most this much of a refused body


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of clients (a `pulumi up --parallel 16`, a load
    # test) then waits on TCP retransmits, seconds each. Mithril's API takes a burst; so does this.
    request_queue_size = 256
    emulator: MithrilEmulator


class MithrilEmulator:
    """Mithril's `/v2` API on a loopback port, plus a control API under `/_emulator/`.

    >>> with MithrilEmulator() as emu:          # doctest: +SKIP
    ...     os.environ["MITHRIL_API_URL"] = emu.url
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, settings: Settings | None = None,
                 state_file: str | Path | None = None, verbose: bool = False) -> None:
        self.backend = MithrilBackend(settings)
        self.faults = FaultPlan()
        self.log = RequestLog()
        self.responses = MithrilResponses(self.backend, self.faults, self.log)
        self.state_file = Path(state_file) if state_file else None
        self.verbose = verbose
        if self.state_file and self.state_file.exists():
            self.backend.load(self.state_file.read_text())
        self._persist_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.emulator = self
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        """A fresh project at the same address, as if the server had just started with these settings: no bid,
        volume or key, the opening market, no faults or logged requests. Clients keep their connections (a test
        of many independent cases does not pay a new server and a new SDK client each)."""
        self.backend = MithrilBackend(self.backend.settings)
        self.faults.clear()
        self.log = RequestLog()
        self.responses = MithrilResponses(self.backend, self.faults, self.log)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    project = PROJECT_NAME

    @staticmethod
    def new_api_key() -> str:
        return KEY_PREFIX + secrets.token_hex(12)

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        key = header[len("Bearer "):].strip()
        expected = self.backend.settings.api_key
        if expected is not None:
            return secrets.compare_digest(key, expected)
        return key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX)

    def persist(self) -> None:
        if self.state_file is None:
            return
        with self._persist_lock:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(self.backend.dump())
            tmp.replace(self.state_file)

    def start(self) -> MithrilEmulator:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mithril-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MithrilEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
