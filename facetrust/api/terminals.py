"""The signed-terminal door, shared by every domain's merchant routes (face-pay payments and
refunds, returns of goods bought on installments): a merchant's terminal proves each request with
its HMAC signature over the method, path, timestamp, nonce and body."""

from __future__ import annotations

import datetime as dt

from fastapi import Request, Security
from starlette.concurrency import run_in_threadpool

from facetrust.api import auth
from facetrust.api.deps import app_keyring
from facetrust.clock import utcnow
from facetrust.payments import merchants
from facetrust.payments.models import Terminal
from facetrust.security import signing


async def signed_terminal(request: Request, _: str | None = Security(auth.TERMINAL_SIGNATURE)) -> Terminal:
    """The terminal whose signature this request carries. Its nonce is committed on its own first,
    so a replay is refused even when the original request failed."""
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    skew = dt.timedelta(seconds=request.app.state.settings.terminal_clock_skew_seconds)

    def check() -> Terminal:  # database and crypto work: off the event loop
        with request.app.state.sessions() as session:
            terminal = merchants.authenticate(
                session,
                app_keyring(request),
                request.headers.get(signing.HEADER_TERMINAL),
                request.headers.get(signing.HEADER_TIMESTAMP),
                request.headers.get(signing.HEADER_NONCE),
                request.headers.get(signing.HEADER_SIGNATURE),
                request.method,
                path,
                body,
                utcnow(),
                skew,
            )
            session.commit()
            return terminal

    return await run_in_threadpool(check)
