"""The composition root: the service's parts, built once from settings when the app starts.

Routes receive them through ``facetrust.api.deps`` (``kyc_context``, ``liveness_context``,
``face_pay_context``, ``credit_context``) and never build them or import another domain's routes
to reach them. A caller that already holds a loaded face engine (a test session, a benchmark) hands
it in and no model is loaded twice. Loading at start, not on the first face request, means a
missing or corrupt model file stops the service before it answers anyone, and the first payer
does not wait for the models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from facetrust.biometrics.engine import EngineConfig, FaceEngine
from facetrust.biometrics.quality import QualityThresholds
from facetrust.credit.context import CreditContext
from facetrust.credit.products import Catalogue
from facetrust.devices.service import DeviceContext
from facetrust.errorcodes import ErrorCode
from facetrust.gallery.service import Gallery
from facetrust.identity.adapters import Guarded, SimulatedBankRegistry, SimulatedCitizenRegistry
from facetrust.identity.kyc import KycContext
from facetrust.liveness.service import LivenessContext
from facetrust.messagebus import MessageBus
from facetrust.payments.context import FacePayContext
from facetrust.payments.enrolment import PURPOSE as FACE_PAY  # the template purpose the gallery holds
from facetrust.security.envelope import Keyring, keyring_for
from facetrust.security.template_store import TemplatesDeleted, TemplateStored
from facetrust.settings import Settings, get_settings
from facetrust.webhooks.delivery import Dispatcher, Policy
from facetrust.webhooks.scans import overdue_scan


@dataclass(frozen=True)
class Parts:
    kyc: KycContext
    liveness: LivenessContext
    face_pay: FacePayContext
    credit: CreditContext
    devices: DeviceContext


def keyring(settings: Settings, create: bool = True) -> Keyring:
    """The master keys as the settings say: on a PKCS#11 token (FACETRUST_KEY_PROVIDER=pkcs11), else
    the key file or FACETRUST_MASTER_KEY. A token that cannot be used stops the start here.
    ``create``: make the first master key (the key file, or ``mk-1`` on the token) if there is none."""
    if settings.key_provider == "pkcs11":
        from facetrust.security.keyproviders import Pkcs11KeyProvider

        assert settings.pkcs11_library and settings.pkcs11_token_label and settings.pkcs11_pin  # the settings check
        return Keyring(
            Pkcs11KeyProvider(
                str(settings.pkcs11_library),
                settings.pkcs11_token_label,
                settings.pkcs11_pin.get_secret_value(),
                create=create,
            )
        )
    if create or settings.master_key:
        return keyring_for(settings.resolved_keyring_path, settings.master_key)
    return Keyring.load(settings.resolved_keyring_path)


def engine_config(settings: Settings) -> EngineConfig:
    """The face engine's own configuration, read from the service's settings."""
    return EngineConfig(
        models_dir=settings.resolved_models_dir,
        threads=settings.threads,
        detector_score_threshold=settings.detector_score_threshold,
        detector_max_side=settings.detector_max_side,
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
        min_image_side=settings.min_image_side,
        quality=QualityThresholds(
            min_face_px=settings.min_face_px,
            min_detector_confidence=settings.min_detector_confidence,
            min_sharpness=settings.min_sharpness,
            min_brightness=settings.min_brightness,
            max_brightness=settings.max_brightness,
            max_yaw_deg=settings.max_yaw_deg,
            max_pitch_deg=settings.max_pitch_deg,
            max_roll_deg=settings.max_roll_deg,
            max_eye_closure=settings.max_eye_closure,
            second_face_ratio=settings.second_face_ratio,
        ),
    )


def face_engine(settings: Settings | None = None) -> FaceEngine:
    """The face models, loaded as the settings say (the CLI, tools and benchmarks use this too)."""
    return FaceEngine(engine_config(settings or get_settings()))


def build(
    settings: Settings, keyring: Keyring, gallery: Gallery, catalogue: Catalogue, engine: FaceEngine | None = None
) -> Parts:
    engine = engine or face_engine(settings)
    kyc = KycContext(
        engine=engine,
        keyring=keyring,
        # An authority or a bank that fails answers 503 with a stable code, never a 500.
        authority=Guarded(
            SimulatedCitizenRegistry(settings.authority_registry),
            ErrorCode.AUTHORITY_UNAVAILABLE,
            "the identity authority could not answer; try again later, or use bank-card verification",
        )
        if settings.authority_registry
        else None,
        bank=Guarded(
            SimulatedBankRegistry(settings.bank_registry),
            ErrorCode.BANK_UNAVAILABLE,
            "the bank could not answer; try again later, or use face verification",
        )
        if settings.bank_registry
        else None,
        bank_code_valid_for=dt.timedelta(seconds=settings.bank_code_valid_seconds),
        bank_code_requests_per_day=settings.bank_code_requests_per_day,
    )
    liveness = LivenessContext.from_settings(settings, engine, keyring)
    return Parts(
        kyc,
        liveness,
        FacePayContext.from_settings(settings, liveness, gallery),
        CreditContext.from_settings(settings, liveness, catalogue),
        DeviceContext(cooldown=dt.timedelta(hours=settings.device_rebind_cooldown_hours)),
    )


def message_bus(gallery: Gallery) -> MessageBus:
    """What follows a commit: the in-memory face-pay gallery follows the face-pay templates stored
    and deleted (enrolment, revoke, a withdrawn consent, a closed account), whoever changed them."""
    bus = MessageBus()

    def template_stored(event: TemplateStored) -> None:
        if event.purpose == FACE_PAY:
            gallery.add(event.tenant_id, event.account_id, event.template, event.template_id)

    def templates_deleted(event: TemplatesDeleted) -> None:
        if event.purpose == FACE_PAY:
            gallery.remove(event.tenant_id, event.account_id)

    bus.on(TemplateStored, template_stored)
    bus.on(TemplatesDeleted, templates_deleted)
    return bus


def webhook_policy(settings: Settings) -> Policy:
    return Policy(
        max_attempts=settings.webhooks_max_attempts,
        base_seconds=settings.webhooks_retry_base_seconds,
        max_seconds=settings.webhooks_retry_max_seconds,
        lease_seconds=settings.webhooks_lease_seconds,
        timeout_seconds=settings.webhooks_timeout_seconds,
    )


def webhook_dispatcher(
    settings: Settings, sessions: sessionmaker[Session], keyring: Keyring, today: Callable[[], dt.date]
) -> Dispatcher:
    """The outbox's sender (started by the app's lifespan, or by `facetrust webhooks deliver`), with
    the overdue-installment scan on the credit clock's day."""
    return Dispatcher(
        sessions,
        keyring,
        webhook_policy(settings),
        poll_seconds=settings.webhooks_poll_seconds,
        scans=[overdue_scan(today)],
        scan_seconds=settings.webhooks_scan_seconds,
    )
