"""One typed settings object, read from FACETRUST_* environment variables.

Defaults run the embedded mode with no other service. Every limit or threshold that a deployment may
want to change lives here rather than as a literal in the code that uses it.
"""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "facetrust"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting never echoes the environment (FACETRUST_MASTER_KEY, the PKCS#11 PIN).
    model_config = SettingsConfigDict(env_prefix="FACETRUST_", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = Field(default_factory=_default_data_dir)
    # Model weights live outside the repository; by default under the data directory.
    models_dir: Path | None = None
    # Real face data for tests and evaluation (never copied into the repository).
    shared_data: Path = REPO_ROOT.parent / "shared" / "data"

    # Service. Without a database URL the embedded SQLite file under the data directory is used.
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    migrate_on_start: bool = True
    # The demo platform (facetrust/web/demo.py): mints demo accounts for trying the pages. Never in production.
    demo: bool = False
    # How people reach support, shown by the pages where they need it (a frozen account's home page).
    support_contact: str = Field("400-000-0000 · support@facetrust.example", min_length=1, max_length=200)
    # Largest request body; a base64 selfie of max_image_bytes is about 4/3 of it.
    max_body_bytes: int = 16 * 1024 * 1024
    # Master keys for envelope encryption (created on first use, mode 0600).
    keyring_path: Path | None = None
    # Alternatively one master key from the environment (base64 of 32 bytes), for deployments
    # whose secret store injects it; rotation then means deploying a keyring file.
    master_key: str | None = None
    # Or the master keys on a PKCS#11 token (an HSM; SoftHSM2 in the tests): "pkcs11" with the
    # module's .so, the token's label and the user PIN. The keys are generated on the token and never
    # leave it (facetrust/security/keyproviders.py). The PIN is a secret: never logged or shown.
    key_provider: Literal["file", "pkcs11"] = "file"
    pkcs11_library: Path | None = None
    pkcs11_token_label: str | None = None
    pkcs11_pin: SecretStr | None = None

    @model_validator(mode="after")
    def _key_provider_complete(self) -> Settings:
        if self.key_provider == "pkcs11":
            missing = [
                f"FACETRUST_{name.upper()}"
                for name in ("pkcs11_library", "pkcs11_token_label", "pkcs11_pin")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"FACETRUST_KEY_PROVIDER=pkcs11 needs {', '.join(missing)}")
            if self.master_key:
                raise ValueError("FACETRUST_MASTER_KEY and FACETRUST_KEY_PROVIDER=pkcs11 exclude each other")
            if self.pkcs11_library is not None and not self.pkcs11_library.is_file():
                raise ValueError(f"FACETRUST_PKCS11_LIBRARY: no such file {self.pkcs11_library}")
        return self

    # Outside institutions. Unset: the method answers 503. Set to a CSV: the local SIMULATOR.
    authority_registry: Path | None = None
    bank_registry: Path | None = None
    # A bank-card authentication's one-time code (texted by the bank to the card's reserved mobile)
    # must be entered within this time.
    bank_code_valid_seconds: int = Field(300, ge=60, le=900)
    # Codes a bank is asked to send in 24 hours, per account and per card: with five tries each, this
    # bounds how many guesses at a six-digit code anyone gets (and how often a stranger's phone buzzes).
    bank_code_requests_per_day: int = Field(5, ge=1, le=20)
    aml_retention_years: int = 5
    # Raw face images are not kept unless this is on; then only sealed, and only this many days.
    store_raw_images: bool = False
    raw_image_retention_days: int = 30
    user_token_ttl_seconds: int = 3600
    # After a new device is bound to an account (facetrust/devices), money waits this long before
    # it may leave from it; the old device is told meanwhile.
    device_rebind_cooldown_hours: float = Field(24, ge=0, le=24 * 30)
    operator_token_ttl_seconds: int = 8 * 3600

    # Image intake limits.
    max_image_bytes: int = 10 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    min_image_side: int = 32

    # Detection.
    detector_score_threshold: float = 0.5
    detector_max_side: int = 640

    # Quality gate.
    min_face_px: int = 60
    min_detector_confidence: float = 0.8
    min_sharpness: float = 9.0
    min_brightness: float = 35.0
    max_brightness: float = 235.0
    max_yaw_deg: float = 40.0
    max_pitch_deg: float = 30.0
    max_roll_deg: float = 30.0
    max_eye_closure: float = 0.7  # the mesh's eyeBlink blendshape, 0 open .. 1 shut
    # A second face this large relative to the subject makes the capture ambiguous.
    second_face_ratio: float = 0.5

    # Liveness sessions: lifetime, number of actions asked, and the capture a client may send.
    # Every capture that moves money or binds an identity asks for random actions, which a still
    # image cannot perform. A face payment asks for one (a blink or an open mouth, to keep it quick);
    # everything else (real-name, face-pay enrolment, a payment's step-up, installments, loans) for
    # min..max. The floors (1 and 2) are part of the product's promise: no setting goes below them,
    # and a settings object that tries is refused at start, naming the setting.
    liveness_session_seconds: int = 60
    liveness_payment_actions: int = Field(1, ge=1, le=2)
    liveness_min_actions: int = Field(2, ge=2, le=5)
    liveness_max_actions: int = Field(3, ge=2, le=5)
    # A passed session may be spent by its flow (real-name, credit, face-pay) within this time.
    liveness_pass_valid_seconds: int = 300
    # A passed capture's content fingerprints are kept this long: a later capture that shows the same
    # moments again (on any account) is a replay. Then they are deleted (facetrust retention purge).
    liveness_replay_window_days: int = Field(30, ge=1)
    liveness_min_frames: int = 8
    liveness_max_frames: int = 90
    liveness_max_fps: float = 30.0
    liveness_max_frame_pixels: int = 2_500_000
    liveness_max_video_bytes: int = 12 * 1024 * 1024
    # Lockout: this many failed liveness or face-verification attempts inside the window, for one
    # account or one device, and face attempts are refused for the lock's duration.
    lockout_max_failures: int = 5
    lockout_window_seconds: int = 180
    lockout_seconds: int = 1800
    # A vending machine is not locked (that would stop every payer at it): after this many failed
    # face attempts inside the lockout window (default: lockout_max_failures) it cools down for the
    # given seconds, doubled with each further failure up to the maximum, from its last failure.
    terminal_cooldown_after_failures: int | None = Field(None, ge=1)
    terminal_cooldown_seconds: int = Field(5, ge=1)
    terminal_cooldown_max_seconds: int = Field(60, ge=1)

    # Rate limits (facetrust/security/ratelimit.py): requests per sliding minute to a group of routes,
    # counted per caller and per device, and per client IP at rate_limit_ip_per_minute; over any of
    # them the answer is 429 `rate_limited` with Retry-After. 0 switches a limit off. Unlike the
    # lockout above, these count every request, failed or not: they bound load and guessing speed.
    # Token minting (a login), per platform user and per device.
    rate_limit_auth_per_minute: int = 30
    # Real-name (face and bank card), liveness sessions and captures, face-pay switch-on; per account and device.
    rate_limit_face_per_minute: int = 30
    # The payer's capture page (frames, phone digits), per payment's capture token.
    rate_limit_capture_per_minute: int = 30
    # Payment intents, per terminal.
    rate_limit_terminal_per_minute: int = 120
    # Operator account look-up, view and reveal, per operator name.
    rate_limit_operator_per_minute: int = 120
    # The person's copy of their data (GET /v1/me/export), per account and device: it reads all of
    # their records, so a few a minute are plenty.
    rate_limit_export_per_minute: int = 3
    # Each group of routes, per client IP (the connection's, see trusted_proxies); generous, as a
    # shop or an office can sit behind one address.
    rate_limit_ip_per_minute: int = 120
    # Where the counts live: "memory" (this process; the embedded default) or "database" (a table
    # every service process over the same database shares, so N processes still allow one limit).
    rate_limit_store: Literal["memory", "database"] = "memory"
    # The reverse proxies in front of the service (addresses or networks, e.g. ["10.0.0.0/8"]). Only
    # a connection from one of them may name the client's address, in X-Forwarded-For; from anyone
    # else the header is ignored and the connection's own address is the client's.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Logs: JSON lines on stderr at this level (facetrust/api/logs.py).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Face pay. Limits in yuan; above either the payment needs an active liveness challenge
    # ("step_up") or is declined ("decline"). A day is a calendar day at this UTC offset (China: +8).
    face_pay_transaction_limit_yuan: int = 2000
    face_pay_daily_limit_yuan: int = 5000
    face_pay_over_limit: Literal["step_up", "decline"] = "step_up"
    face_pay_day_utc_offset_hours: int = 8
    # How long a terminal's payment intent waits for the payer.
    face_pay_intent_seconds: int = 180
    # Open-set identification (gallery/decision.py): the false-positive identification rate held
    # per search, the best-vs-second margin, and the gallery size above which the payer is always
    # asked for the last four digits of their mobile number.
    face_pay_target_fpir: float = 1e-3
    face_pay_margin: float = 0.05
    face_pay_direct_max_gallery: int = 1000
    face_pay_candidates: int = 10
    # Terminal request signing: how far a terminal's clock may be from ours.
    terminal_clock_skew_seconds: int = 300
    # Gallery engine: in-process (default), or Milvus at gallery_milvus_uri (a server URI, or a
    # local file for Milvus Lite; default under the data directory).
    gallery_engine: Literal["inprocess", "milvus"] = "inprocess"
    # Several service processes over one database: each process's gallery looks for the face-pay
    # templates the others stored at most this often (seconds; 0 before every search). None: one
    # process, which learns its own enrolments after their commit (the embedded default).
    gallery_sync_seconds: float | None = Field(None, ge=0)
    gallery_milvus_uri: str | None = None

    # Credit. The product catalogue (default: the packaged facetrust/credit/products.json) and the
    # ceilings its loader refuses to exceed: the overdue penalty per day on overdue principal, and
    # the annualised cost (IRR x 12) of any term a product offers.
    credit_products_path: Path | None = None
    credit_penalty_daily_rate_ceiling: Decimal = Decimal("0.0005")
    credit_apr_ceiling: Decimal = Decimal("0.24")
    # Installment due dates and overdue days are calendar days at this UTC offset (China: +8).
    credit_day_utc_offset_hours: int = 8
    # The face check that confirms a credit draw must have been made this recently ("moments before").
    credit_face_max_age_seconds: int = 120
    # How long a merchant's installment checkout waits for the account holder.
    credit_checkout_seconds: int = 1800

    # Webhooks to the platform's back end (facetrust/webhooks/): whether this process runs a
    # dispatcher (every process may; claims are safe across processes), how often it looks for due
    # deliveries, and the retry policy: at most webhook_max_attempts POSTs, the n-th retry after
    # about base * 2**(n-1) seconds (capped, with jitter), a claim's lease, a POST's time-out.
    webhooks_dispatch: bool = True
    webhooks_poll_seconds: float = Field(1.0, gt=0)
    webhooks_max_attempts: int = Field(8, ge=1, le=50)
    webhooks_retry_base_seconds: float = Field(10.0, gt=0)
    webhooks_retry_max_seconds: float = Field(3600.0, gt=0)
    webhooks_lease_seconds: float = Field(60.0, gt=0)
    webhooks_timeout_seconds: float = Field(10.0, gt=0)
    webhooks_scan_seconds: float = Field(300.0, gt=0)  # how often installments are scanned for overdue

    # Risk control: the rule set (default: the packaged facetrust/risk/rules/default.yaml), loaded
    # and validated at start.
    risk_rules_path: Path | None = None

    # Computation: the face engine's workers, each analysing whole images on one OpenCV thread
    # (one per core is right; more only share the same cores).
    threads: int = 2

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # a typo stops the service here, not silently later
        return value

    @model_validator(mode="after")
    def _action_counts_in_order(self) -> Settings:
        if self.liveness_max_actions < self.liveness_min_actions:
            raise ValueError("liveness_max_actions must be at least liveness_min_actions")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'facetrust.db'}"

    @property
    def resolved_keyring_path(self) -> Path:
        return self.keyring_path or (self.data_dir / "keys.json")

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or (self.data_dir / "models")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
