"""Domain events, handled after commit (cosmicpython's message bus, reduced to what we need).

A service that changes something other parts must follow (a face-pay template stored or deleted:
the in-memory gallery) records an event in its session; once the session's transaction commits, the
handlers the composition root registered run, whichever caller made the change: a route, a command,
a job. A rolled-back transaction drops its events, so nothing follows a change that did not happen.
A handler that fails is logged (its type, never its message or the event) and does not undo the
committed change: what it keeps (the gallery) must tolerate being stale, as the gallery does by
re-checking every candidate against the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

PENDING = "facetrust.pending_events"
log = logging.getLogger("facetrust.messagebus")


def record(session: Session, event: Any) -> None:
    """Keep ``event`` until the session's transaction ends: handled on commit, dropped on rollback."""
    session.info.setdefault(PENDING, []).append(event)


class MessageBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def on(self, kind: type, handler: Callable[[Any], None]) -> None:
        self._handlers[kind].append(handler)

    def install(self, sessions: sessionmaker) -> None:
        """Handle the events of every session ``sessions`` makes."""
        sa_event.listen(sessions, "after_commit", self._dispatch)
        sa_event.listen(sessions, "after_rollback", _drop)

    def _dispatch(self, session: Session) -> None:
        for event in session.info.pop(PENDING, []):
            for handler in self._handlers[type(event)]:
                try:
                    handler(event)
                except Exception as exc:  # the change is committed; the handler's state must tolerate staleness
                    log.error(
                        "event handler failed", extra={"event": type(event).__name__, "error": type(exc).__name__}
                    )


def _drop(session: Session) -> None:
    session.info.pop(PENDING, None)
