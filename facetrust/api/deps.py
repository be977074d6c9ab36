"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from facetrust.credit.context import CreditContext
from facetrust.errors import RecordedRefusal
from facetrust.identity.kyc import KycContext
from facetrust.liveness.service import LivenessContext
from facetrust.payments.context import FacePayContext
from facetrust.security.envelope import Keyring, keyring_for


def get_session(request: Request) -> Iterator[Session]:
    """One session, and so one transaction, per request: a route commits once at its end, and any
    failure rolls everything back, leaving no partial rows."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


# The parts the composition root (facetrust/bootstrap.py) built when the app started.
def kyc_context(request: Request) -> KycContext:
    return request.app.state.kyc


def liveness_context(request: Request) -> LivenessContext:
    return request.app.state.liveness


def face_pay_context(request: Request) -> FacePayContext:
    return request.app.state.face_pay


def credit_context(request: Request) -> CreditContext:
    return request.app.state.credit


def app_keyring(request: Request) -> Keyring:
    """The app's master keyring, loaded (or created) once."""
    keyring = getattr(request.app.state, "keyring", None)
    if keyring is None:
        settings = request.app.state.settings
        keyring = request.app.state.keyring = keyring_for(settings.resolved_keyring_path, settings.master_key)
    return keyring


@contextmanager
def keeping_refusal_records(session: Session) -> Iterator[None]:
    """Commit what a ``RecordedRefusal`` wrote before it reaches the client; any other error rolls
    the request back."""
    try:
        yield
    except RecordedRefusal:
        session.commit()
        raise


@dataclass(frozen=True)
class ClientInfo:
    """The end user's device and IP, when the platform passes them (``X-Device-Id``, and
    ``X-Client-Ip`` from the platform's back end or app gateway; else the peer address)."""

    device_id: str | None
    ip: str | None


def client_info(request: Request) -> ClientInfo:
    device = (request.headers.get("x-device-id") or "").strip()[:128] or None
    ip = (request.headers.get("x-client-ip") or "").strip()[:64] or (request.client.host if request.client else None)
    return ClientInfo(device, ip)
