"""Everything the credit flows need, built once per app from the settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from facetrust.clock import utcnow
from facetrust.credit.products import Catalogue
from facetrust.liveness.service import LivenessContext
from facetrust.settings import Settings


@dataclass
class CreditContext:
    live: LivenessContext
    catalogue: Catalogue
    day_offset: dt.timezone
    face_max_age: dt.timedelta
    checkout_ttl: dt.timedelta
    # The clock that decides which installments are due and overdue; replaceable, so a test can
    # let a plan's months pass without waiting for them.
    clock: Callable[[], dt.datetime] = field(default=utcnow)

    @classmethod
    def from_settings(cls, settings: Settings, live: LivenessContext, catalogue: Catalogue) -> CreditContext:
        return cls(
            live=live,
            catalogue=catalogue,
            day_offset=dt.timezone(dt.timedelta(hours=settings.credit_day_utc_offset_hours)),
            face_max_age=dt.timedelta(seconds=settings.credit_face_max_age_seconds),
            checkout_ttl=dt.timedelta(seconds=settings.credit_checkout_seconds),
        )

    def today(self) -> dt.date:
        return self.clock().astimezone(self.day_offset).date()
