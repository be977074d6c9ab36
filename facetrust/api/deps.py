"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    """One session, and so one transaction, per request: a route commits once at its end, and any
    failure rolls everything back, leaving no partial rows."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()
