"""Everything the face-pay flows need, built once per app from the settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from facetrust.biometrics.engine import FaceEngine
from facetrust.gallery.decision import OpenSetPolicy
from facetrust.gallery.service import Gallery
from facetrust.liveness.service import LivenessContext
from facetrust.security.envelope import Keyring
from facetrust.settings import Settings

FEN_PER_YUAN = 100


@dataclass(frozen=True)
class FacePayLimits:
    transaction_fen: int
    daily_fen: int
    over_limit: str  # step_up | decline
    day_offset: dt.timezone  # the calendar day the daily limit counts

    def day_start(self, now: dt.datetime) -> dt.datetime:
        local = now.astimezone(self.day_offset)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


@dataclass
class FacePayContext:
    engine: FaceEngine
    keyring: Keyring
    live: LivenessContext
    gallery: Gallery
    policy: OpenSetPolicy
    limits: FacePayLimits
    intent_ttl: dt.timedelta
    clock_skew: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings, live: LivenessContext, gallery: Gallery) -> FacePayContext:
        return cls(
            engine=live.engine,
            keyring=live.keyring,
            live=live,
            gallery=gallery,
            policy=OpenSetPolicy(
                target_fpir=settings.face_pay_target_fpir,
                margin=settings.face_pay_margin,
                direct_max_gallery=settings.face_pay_direct_max_gallery,
                candidates=settings.face_pay_candidates,
            ),
            limits=FacePayLimits(
                settings.face_pay_transaction_limit_yuan * FEN_PER_YUAN,
                settings.face_pay_daily_limit_yuan * FEN_PER_YUAN,
                settings.face_pay_over_limit,
                dt.timezone(dt.timedelta(hours=settings.face_pay_day_utc_offset_hours)),
            ),
            intent_ttl=dt.timedelta(seconds=settings.face_pay_intent_seconds),
            clock_skew=dt.timedelta(seconds=settings.terminal_clock_skew_seconds),
        )
