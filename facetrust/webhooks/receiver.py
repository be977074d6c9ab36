"""A small receiver of FaceTrust webhooks: checks each signature, dedupes by event id, and answers
with the statuses it is told to (for tests, and ``facetrust webhooks receiver`` to try a set-up).

It is what a platform's back end does, in a few lines: verify (``signing.verify``), drop an event
id already seen, answer 2xx quickly, process later.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from facetrust.webhooks import signing


@dataclass
class Received:
    event_id: str
    kind: str
    body: dict
    verified: bool
    answered: int


@dataclass
class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1. ``statuses``: what to answer, in turn (then 200);
    ``hold``: set to make requests wait until it is cleared (a receiver that hangs)."""

    secret: str = ""
    port: int = 0
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    on_event: Callable[[Received], None] | None = None

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.hold = threading.Event()
        self.seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                while receiver.hold.is_set():  # a receiver that hangs, until told otherwise
                    threading.Event().wait(0.05)
                verified = bool(receiver.secret) and signing.verify(receiver.secret, dict(self.headers), raw)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if not verified:
                        status = 401
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = {}
                    got = Received(
                        self.headers.get(signing.HEADER_ID, ""), body.get("kind", ""), body, verified, status
                    )
                    receiver.received.append(got)
                    if 200 <= status < 300:
                        receiver.seen.add(got.event_id)
                if receiver.on_event:
                    receiver.on_event(got)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.hold.clear()
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Received]:
        """The events accepted (verified, answered 2xx), in order, duplicates included."""
        with self.lock:
            return [r for r in self.received if r.verified and 200 <= r.answered < 300]
