"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from facetrust.security.envelope import Keyring, keyring_for


def get_session(request: Request) -> Iterator[Session]:
    """One session, and so one transaction, per request: a route commits once at its end, and any
    failure rolls everything back, leaving no partial rows."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def app_keyring(request: Request) -> Keyring:
    """The app's master keyring, loaded (or created) once."""
    keyring = getattr(request.app.state, "keyring", None)
    if keyring is None:
        settings = request.app.state.settings
        keyring = request.app.state.keyring = keyring_for(settings.resolved_keyring_path, settings.master_key)
    return keyring
