"""Request-scoped dependencies shared by every domain's routes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from facetrust.credit.context import CreditContext
from facetrust.devices.service import DeviceContext
from facetrust.errors import RecordedRefusal
from facetrust.identity.kyc import KycContext
from facetrust.liveness.service import LivenessContext
from facetrust.payments.context import FacePayContext
from facetrust.security.envelope import Keyring


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


def device_context(request: Request) -> DeviceContext:
    return request.app.state.devices


def app_keyring(request: Request) -> Keyring:
    """The app's master keyring, loaded (or created) when the app started."""
    return request.app.state.keyring


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
    """The end user's device and IP as far as they can be trusted, and where each came from.

    Nothing a client writes into a header is believed by itself: the IP is the connection's (or the
    one a listed proxy appended to ``X-Forwarded-For``), or the ``X-Client-Ip`` the platform's back
    end sends with its API key; a device id counts only when that back end vouched for it, by sending
    ``X-Device-Id`` with its API key (at sign-in the token it mints is bound to that device)."""

    device_id: str | None
    ip: str | None
    ip_source: str | None = None  # "peer" | "proxy" | "platform"
    device_source: str | None = None  # "platform" (with the API key) | "token" (bound at sign-in)

    def vouched(self) -> dict:
        """For a risk event's data: where its IP and device id came from (only vouched ones are kept)."""
        return {k: v for k, v in (("ip_source", self.ip_source), ("device_source", self.device_source)) if v}


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None


def client_address(request: Request) -> tuple[str | None, str | None]:
    """The client's IP and its source. The connection's peer, unless the peer is one of the
    ``trusted_proxies``: then the last ``X-Forwarded-For`` entry that no listed proxy wrote (each
    proxy appends the address it saw, so entries left of it are the client's own claims)."""
    peer = request.client.host if request.client else None
    proxies = [ipaddress.ip_network(n, strict=False) for n in request.app.state.settings.trusted_proxies]

    def trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in net for net in proxies)

    if not trusted(_address(peer)):
        return peer, "peer" if peer else None
    hops = [h for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # a garbled hop: nothing to its left can be placed
        if not trusted(address):
            return str(address), "proxy"
    return peer, "peer"


def user_client_info(request: Request, device_id: str | None) -> ClientInfo:
    """For calls an end user makes with a bearer token: the connection's address, and the device
    the platform bound to the token (``Principal.device_id``), never a header's."""
    ip, source = client_address(request)
    return ClientInfo(device_id, ip, source, "token" if device_id else None)


def platform_client_info(request: Request) -> ClientInfo:
    """For calls the platform's back end makes with its API key (it is the peer, shared by all its
    users): the user's device and IP as it vouches for them, ``X-Device-Id`` and ``X-Client-Ip``.
    An ``X-Client-Ip`` that is not an IP address is dropped."""
    device = (request.headers.get("x-device-id") or "").strip()[:128] or None
    address = _address(request.headers.get("x-client-ip"))
    return ClientInfo(
        device, str(address) if address else None, "platform" if address else None, "platform" if device else None
    )
