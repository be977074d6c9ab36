"""One check of a liveness decision: passed or not, the failure's reason code, and its measures."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    passed: bool
    reason: str | None = None  # the failure's reason code
    measures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "reason": self.reason, "measures": self.measures}
