"""Error mapping: every failure a client sees is a status, a stable `code` and a message.

No stack trace and no exception text from inside the service reaches a client; unexpected failures
are logged with the request id (and where they were raised, never their message) and answered with
a generic `internal_error` carrying the same `X-Request-Id`, so a caller can quote it to support.
A refusal with `retry_after_seconds` (rate limits, the face-attempt lockout) also says it in a
`Retry-After` header, the form HTTP clients and proxies understand.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facetrust.api import logs
from facetrust.api.access_log import route_template
from facetrust.biometrics.errors import BiometricError
from facetrust.errorcodes import ErrorCode
from facetrust.errors import DomainError, exception_fields

log = logging.getLogger("facetrust.api")

# The code of a refusal from the HTTP layer (an unknown path, a wrong method...), by its status.
_HTTP_CODES = {
    code.status: code
    for code in (
        ErrorCode.BAD_REQUEST,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_FOUND,
        ErrorCode.METHOD_NOT_ALLOWED,
        ErrorCode.CONFLICT,
        ErrorCode.REQUEST_TOO_LARGE,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ErrorCode.RATE_LIMITED,
    )
}


class ErrorDetail(BaseModel):
    """A stable machine-readable ``code`` (one of the catalogue's, ``facetrust.errorcodes``) and a
    human ``message``; some errors add fields (``fields`` of a malformed request, ``reasons`` of an
    unusable face, ``retry_after_seconds``, ``held_for_review`` of a ``risk_declined`` that a person
    on the risk team will review)."""

    model_config = ConfigDict(extra="allow")

    code: ErrorCode
    message: str


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


# Declared for every route (``FastAPI(responses=...)``), so the OpenAPI document describes the body of
# every 4xx, and replaces FastAPI's default 422 model, a shape this app never sends.
ERROR_RESPONSES: dict[int | str, dict] = {
    "4XX": {"model": ErrorOut, "description": "Refused: a stable code and a message"},
}


def error_body(code: ErrorCode, message: str, **extra: object) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def retry_after_header(extra: dict) -> dict[str, str] | None:
    """``Retry-After`` (whole seconds) for an error that says when to try again."""
    wait = extra.get("retry_after_seconds")
    return {"Retry-After": str(max(1, int(wait)))} if isinstance(wait, int | float) else None


def known_field_names(app: FastAPI) -> frozenset[str]:
    """Every name a request can be validated under: the routes' parameters and the fields of every
    model in the service. Computed once per app."""
    names = getattr(app.state, "known_field_names", None)
    if names is None:
        found: set[str] = set()
        pending = list(BaseModel.__subclasses__())
        while pending:
            model = pending.pop()
            pending.extend(model.__subclasses__())
            if model.__module__.startswith("facetrust."):
                for name, info in model.model_fields.items():
                    found.update(n for n in (name, info.alias) if n)
        for route in app.routes:
            dependant = getattr(route, "dependant", None)
            stack = [dependant] if dependant is not None else []
            while stack:
                d = stack.pop()
                stack.extend(d.dependencies)
                for param in (*d.path_params, *d.query_params, *d.header_params, *d.cookie_params, *d.body_params):
                    found.update(n for n in (param.name, param.alias) if n)
        names = app.state.known_field_names = frozenset(found)
    return names


def validation_field(error: dict, known: frozenset[str]) -> dict:
    """One validation problem, naming the field only as far as the schema knows it. A key the
    client made up (an unexpected field, a dict key) is never echoed: it can carry anything, a name
    and an ID number included."""
    loc = [p for p in error.get("loc", ()) if p != "body"]
    problem = error.get("msg", "")
    if error.get("type") == "extra_forbidden":
        loc, problem = loc[:-1], "an unexpected field was sent"
    path = []
    for part in loc:
        if isinstance(part, int) or part in known or part in ("query", "header", "path", "cookie"):
            path.append(str(part))
        else:
            break  # a name the schema does not know: stop at the last known one
    return {"field": ".".join(path), "problem": problem}


class CatchUnexpected:
    """ASGI middleware, inside ``RequestId`` and the access log: an exception nothing else handled is
    logged here, under the request's own id (its context is still current), and answered 500
    ``internal_error``. It is not re-raised: the server would log it again outside the request's
    context (under no id, or a previous request's) and drop the kept-alive connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:  # noqa: BLE001  the last place that can still answer this request
            log.error(
                "unhandled %s on %s %s",
                type(exc).__name__,
                scope["method"],
                route_template(scope),
                extra=exception_fields(exc),
            )
            if not started:  # else the answer is already on its way; nothing more can be said
                await JSONResponse(
                    error_body(ErrorCode.INTERNAL_ERROR, ErrorCode.INTERNAL_ERROR.message), status_code=500
                )(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.extra),
            status_code=exc.status,
            headers=retry_after_header(exc.extra),
        )

    @app.exception_handler(BiometricError)
    async def _biometric(_: Request, exc: BiometricError) -> JSONResponse:
        body = exc.as_dict()
        del body["code"]
        return JSONResponse(error_body(exc.code, body.pop("message"), **body), status_code=exc.code.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        known = known_field_names(request.app)
        fields = [validation_field(e, known) for e in exc.errors()]
        malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
        code = ErrorCode.MALFORMED_JSON if malformed else ErrorCode.INVALID_REQUEST
        return JSONResponse(error_body(code, code.message, fields=fields), status_code=code.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # This handler runs outside every middleware, so the request id comes from the scope.
        request_id = logs.request_id_of(request.scope)
        log.error(
            "unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            route_template(request.scope),
            extra={"request_id": request_id, **exception_fields(exc)},
        )
        return JSONResponse(
            error_body(ErrorCode.INTERNAL_ERROR, ErrorCode.INTERNAL_ERROR.message),
            status_code=500,
            headers={logs.HEADER: request_id} if request_id else None,
        )
