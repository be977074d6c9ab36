"""The service: `create_app(settings)` builds the FastAPI app over one database."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from facetrust import __version__, bootstrap
from facetrust.api import errors, metrics
from facetrust.api.access_log import AccessLog
from facetrust.api.deps import get_session
from facetrust.api.limits import BodySizeLimit
from facetrust.api.logs import RequestId
from facetrust.biometrics.engine import FaceEngine
from facetrust.consent.routes import router as consent_router
from facetrust.credit import products
from facetrust.credit.routes import router as credit_router
from facetrust.devices.routes import router as devices_router
from facetrust.gallery.engines import index_factory
from facetrust.gallery.service import Gallery
from facetrust.identity.routes import router as identity_router
from facetrust.liveness.routes import router as liveness_router
from facetrust.payments.routes import router as payments_router
from facetrust.risk.engine import RiskEngine
from facetrust.risk.routes import router as risk_router
from facetrust.security.ratelimit import DatabaseWindows, RateLimiter
from facetrust.security.routes import router as security_router
from facetrust.settings import Settings, get_settings
from facetrust.store.db import make_engine, session_factory
from facetrust.store.migrate import upgrade
from facetrust.web import demo, pages
from facetrust.webhooks.routes import router as webhooks_router


def create_app(settings: Settings | None = None, face_engine: FaceEngine | None = None) -> FastAPI:
    """The app over ``settings``' database; ``face_engine``, if given, is used instead of loading the
    models again (tests and benchmarks that hold one)."""
    settings = settings or get_settings()
    url = settings.resolved_database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.migrate_on_start:
            upgrade(url)
        app.state.keyring = bootstrap.keyring(settings)  # a key file, or a PKCS#11 token
        parts = bootstrap.build(settings, app.state.keyring, app.state.gallery, app.state.credit_catalogue, face_engine)
        app.state.kyc, app.state.liveness = parts.kyc, parts.liveness
        app.state.face_pay, app.state.credit = parts.face_pay, parts.credit
        app.state.devices = parts.devices
        with app.state.sessions() as session:  # the face-pay gallery, from the database; the rule set, kept whole
            app.state.gallery.rebuild(session, app.state.keyring)
            app.state.risk.register(session)
            session.commit()
        # The webhook outbox's sender: every process may run one (claims are safe across processes).
        dispatcher = None
        if settings.webhooks_dispatch:
            dispatcher = bootstrap.webhook_dispatcher(
                settings, app.state.sessions, app.state.keyring, parts.credit.today
            )
            dispatcher.start()
        app.state.webhook_dispatcher = dispatcher
        yield
        if dispatcher is not None:
            dispatcher.stop()
        app.state.engine.dispose()

    # Operation ids are the route functions' names (unique, checked by tests/test_openapi_contract.py):
    # `register_account`, not `register_account_v1_accounts_post`, in a generated client.
    app = FastAPI(
        title="FaceTrust",
        version=__version__,
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.settings = settings
    app.state.engine = make_engine(url)
    # A rule set with a bad rule stops the service here, naming the rule and the field.
    app.state.risk = RiskEngine.load(settings.risk_rules_path)
    app.state.sessions = session_factory(app.state.engine, risk_engine=app.state.risk)
    app.state.gallery = Gallery(index_factory(settings), settings.gallery_sync_seconds)
    bootstrap.message_bus(app.state.gallery).install(app.state.sessions)  # the gallery follows commits
    # A product catalogue above its ceilings stops the service here, before any offer is made.
    app.state.credit_catalogue = products.load(
        settings.credit_products_path, settings.credit_penalty_daily_rate_ceiling, settings.credit_apr_ceiling
    )
    # Request rates per caller, device and IP: in this process, or shared by every process over the
    # database (FACETRUST_RATE_LIMIT_STORE; see facetrust/security/ratelimit.py).
    app.state.rate_limiter = (
        RateLimiter(DatabaseWindows(app.state.sessions), clock=time.time)
        if settings.rate_limit_store == "database"
        else RateLimiter()
    )
    errors.install(app)
    # The last added is the outermost: the request id is set before the metrics and the access log see the request.
    app.add_middleware(errors.CatchUnexpected)  # innermost: logs and answers a failure inside its request
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLog)
    app.add_middleware(RequestId)

    @app.get("/health", tags=["operations"])
    def health() -> dict:
        """The process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["operations"])
    def ready(session: Session = Depends(get_session)) -> dict:
        """The database answers."""
        session.execute(text("SELECT 1"))
        return {"status": "ready", "database": session.get_bind().dialect.name}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus_metrics() -> Response:
        """Prometheus figures: request latency by route, risk, liveness and face-pay decisions, rate-limit
        refusals. No personal data in them, but deployments serve this path only to their monitoring
        network (block it at the edge)."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    app.include_router(identity_router)
    app.include_router(consent_router)
    app.include_router(liveness_router)
    app.include_router(payments_router)
    app.include_router(credit_router)
    app.include_router(devices_router)
    app.include_router(risk_router)
    app.include_router(security_router)
    app.include_router(webhooks_router)
    app.include_router(demo.router)
    pages.install(app)
    return app


def worker_app() -> FastAPI:
    """One of several service processes (``facetrust serve --workers N``): its logs as the parent's,
    its app from the environment's settings."""
    from facetrust.api.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
