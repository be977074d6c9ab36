"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to.

- ``RequestId`` (ASGI middleware) takes the caller's ``X-Request-Id`` when it is a short safe token
  (so a platform can follow one call through its systems and ours), else makes one; it answers
  with it in ``X-Request-Id`` and keeps it in a context variable, which the endpoint's thread pool
  inherits, so every log line written while the request runs names it.
- ``JsonFormatter`` writes ``ts``, ``level``, ``logger``, ``msg``, ``request_id`` and whatever
  fields a call passes in ``extra`` (the access log's method, route, status, duration_ms).
- ``configure_logging`` installs the formatter on the root logger; ``facetrust serve`` calls it.

No personal data: messages are written by this code base, which logs route templates, codes and
ids, never images, names, ID numbers, phone numbers, paths or queries. An exception is logged as
its type and the code locations of its traceback, never its message, since exception text (a
database error's parameters, say) can quote the data being processed.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import uuid
from typing import TYPE_CHECKING

from facetrust.errors import exception_fields

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("facetrust_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _current.get()


def request_id_of(scope: Scope) -> str | None:
    """The id ``RequestId`` gave this request; for code that runs outside its context (the app's
    last-resort error handler runs outside every middleware)."""
    return (scope.get("state") or {}).get("request_id")


def accepted_or_new(incoming: str | None) -> str:
    """The caller's id if it is a short token of safe characters (it is written into logs and
    headers as is), else a fresh random one."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestId:
    """ASGI middleware: give every HTTP request an id, answer with it, and log under it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(HEADER.lower().encode())
        request_id = accepted_or_new(incoming.decode("latin-1") if incoming else None)
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.lower().encode()]
                message = {**message, "headers": [*headers, (HEADER.lower().encode(), request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            _current.reset(token)


# Attributes every LogRecord has; anything else on a record came from ``extra`` and is written out
# (except uvicorn's terminal-coloured copy of its message).
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601, milliseconds), level, logger, msg, request_id,
    then the record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and k not in line})
        if record.exc_info and record.exc_info[1] is not None:  # another library's exc_info: same rule
            line.update(exception_fields(record.exc_info[1]))
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream=None) -> logging.Handler:
    """JSON lines on stderr (or ``stream``) for every logger, replacing any handler the root had.
    uvicorn's own loggers propagate here when it runs with ``log_config=None``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
