"""The one error type domain services raise for a client-fixable failure.

It carries an HTTP-style status and a stable code, so the API maps it without knowing the domain,
and the domain never imports the web framework.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class RecordedRefusal(DomainError):
    """A refusal whose records must be kept: the route commits what the attempt wrote (a spent
    liveness pass, a lockout failure, a risk decision, a freeze) before it answers."""
