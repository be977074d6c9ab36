"""The one error type domain services raise for a client-fixable failure.

It carries a code from the catalogue (``facetrust.errorcodes.ErrorCode``) and the HTTP-style status
the catalogue gives that code, so the API maps it without knowing the domain, the domain never
imports the web framework, and a raise site cannot answer a code with a status of its own.
"""

from __future__ import annotations

import traceback

from facetrust.errorcodes import ErrorCode


class DomainError(Exception):
    """``DomainError(ErrorCode.PLAN_NOT_FOUND, "no such plan", **extra)``: the message says what went
    wrong in this case (the catalogue's default message when none is given); ``extra`` fields go into
    the error body. ``status`` is the catalogue's, or one of the few second statuses it lists for
    the code (``ErrorCode.other_statuses``)."""

    def __init__(
        self, code: ErrorCode, message: str | None = None, *, status: int | None = None, **extra: object
    ) -> None:
        if not isinstance(code, ErrorCode):
            raise TypeError(f"an error code comes from the catalogue (ErrorCode), not {code!r}")
        status = code.status if status is None else status
        if not code.allows(status):
            raise ValueError(f"{code} is not answered with {status}")
        message = code.message if message is None else message
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class RecordedRefusal(DomainError):
    """A refusal whose records must be kept: the route commits what the attempt wrote (a spent
    liveness pass, a lockout failure, a risk decision, a freeze) before it answers."""


def exception_fields(exc: BaseException) -> dict:
    """An exception as its type and the code locations it was raised through, without its message.
    Passed to a log as ``extra`` (rather than ``exc_info``) so that no handler can print the message."""
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    return {"exc_type": type(exc).__name__, "stack": frames}
