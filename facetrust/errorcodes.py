"""The error-code catalogue: every code the service answers a refusal with, its HTTP status and a
default English message, in one place.

Kernel: imports nothing of the project. ``facetrust.errors.DomainError`` takes an ``ErrorCode`` and
reads its status from here, so a raise site cannot disagree with the catalogue; the API's own
refusals (authentication, validation, the request-size limit, unexpected failures) and the face
engine's image errors take their codes from here too. The OpenAPI document publishes the list as the
error body's ``code`` enum, and the web pages' ``errors.js`` has a Chinese and an English text for
every code (``tests/test_error_codes.py`` keeps all of this true).

A raise site still says what went wrong in its own words (the message names the limit, the state,
the allowed values); the default message here describes the code, and is what a refusal says when
its raise site gives none.

Three codes are answered with a second status at some raise sites, listed in ``other_statuses``;
they predate the catalogue and clients may depend on them (``account_not_active`` is 409 where a
credit line is set, ``face_mismatch`` is 403 where credit is confirmed by face,
``guardian_consent_required`` is 403 at the face real-name check). ``DomainError`` refuses any
status the entry does not list.

The liveness decision's reason codes and a payment's decline reasons are not HTTP errors (a failed
check is answered 200 with its outcome, a declined payment with its ``decline_reason``), but the
pages show them, so they are listed here too (``LivenessReason``, ``DeclineReason``).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable machine-readable error code, with the HTTP status it is answered with and a default
    message. Its value is the code string clients see."""

    status: int
    message: str
    other_statuses: tuple[int, ...]

    def __new__(cls, value: str, status: int, message: str, other_statuses: tuple[int, ...] = ()) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status, member.message, member.other_statuses = status, message, other_statuses
        return member

    def allows(self, status: int) -> bool:
        """Whether this code may be answered with ``status``."""
        return status == self.status or status in self.other_statuses

    # The API layer: the request itself, credentials, limits, failures nobody expected.
    BAD_REQUEST = "bad_request", 400, "the request is malformed"
    UNAUTHENTICATED = "unauthenticated", 401, "this call needs valid credentials"
    FORBIDDEN = "forbidden", 403, "the caller may not make this call"
    NOT_FOUND = "not_found", 404, "there is nothing at this address"
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "this address does not take this method"
    CONFLICT = "conflict", 409, "the request conflicts with the current state"
    REQUEST_TOO_LARGE = "request_too_large", 413, "the request body is too large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "the request body's media type is not accepted"
    # Any other refusal from the HTTP layer without a code of its own; answered with its own status.
    HTTP_ERROR = "http_error", 400, "the request was refused"
    MALFORMED_JSON = "malformed_json", 422, "the request body is not valid JSON"
    INVALID_REQUEST = "invalid_request", 422, "the request does not match the expected shape"
    RATE_LIMITED = "rate_limited", 429, "too many requests; try again later"
    INTERNAL_ERROR = "internal_error", 500, "an internal error occurred; try again later"

    # Images (the face engine's intake and quality gate).
    BIOMETRIC_ERROR = "biometric_error", 422, "the image could not be analysed"
    IMAGE_EMPTY = "image_empty", 422, "the image is empty"
    IMAGE_TOO_LARGE = "image_too_large", 413, "the image has too many bytes or pixels"
    IMAGE_TOO_SMALL = "image_too_small", 422, "the image is too small to find a face in"
    IMAGE_FORMAT_UNSUPPORTED = (
        "image_format_unsupported",
        422,
        "the image format is not supported; send JPEG, PNG or WebP",
    )
    IMAGE_UNREADABLE = "image_unreadable", 422, "the image data cannot be read"
    FACE_NOT_USABLE = "face_not_usable", 422, "the face in the image failed the quality check"
    TEMPLATE_MODEL_MISMATCH = "template_model_mismatch", 422, "the face templates come from different models"
    CALIBRATION_INVALID = "calibration_invalid", 422, "the face-matching calibration is not valid"

    # Accounts and consent.
    ACCOUNT_EXISTS = "account_exists", 409, "an account with this platform user id already exists"
    ACCOUNT_NOT_FOUND = "account_not_found", 404, "no such account"
    ACCOUNT_NOT_ACTIVE = "account_not_active", 403, "the account is not active", (409,)
    ACCOUNT_FROZEN = "account_frozen", 403, "the account is frozen; an operator must review it first"
    ACCOUNT_CLOSED = "account_closed", 409, "the account is closed"
    ACCOUNT_HAS_OPEN_CREDIT = (
        "account_has_open_credit",
        409,
        "the account has an installment plan or loan that is not paid off",
    )
    ACCOUNT_HAS_NEGATIVE_BALANCE = "account_has_negative_balance", 409, "the account owes money on its books"
    ACCOUNT_HAS_PENDING_PAYMENT = (
        "account_has_pending_payment",
        409,
        "a payment of this account is waiting to be completed",
    )
    MOBILE_INVALID = "mobile_invalid", 422, "the mobile number must be 11 digits starting 13-19"
    ROLE_INVALID = "role_invalid", 422, "no such operator role"
    TENANT_NOT_FOUND = "tenant_not_found", 404, "no such platform"
    TENANT_EXISTS = "tenant_exists", 409, "a platform with this name already exists"
    # Operators scoped to tenants (facetrust/identity/scope.py, facetrust/identity/operators.py).
    PLATFORM_OPERATOR_REQUIRED = "platform_operator_required", 403, "this call is for platform operators only"
    OPERATOR_SCOPE_FORBIDDEN = (
        "operator_scope_forbidden",
        403,
        "a tenant's admin manages only their own tenant's operators, never platform ones",
    )
    OPERATOR_NOT_FOUND = "operator_not_found", 404, "no such operator"
    OPERATOR_EXISTS = "operator_exists", 409, "an operator with this name already exists"
    CONSENT_REQUIRED = "consent_required", 403, "this needs the account holder's consent first"
    CONSENT_NOT_GRANTED = "consent_not_granted", 409, "there is no standing consent to withdraw"
    NOTICE_OUTDATED = "notice_outdated", 409, "consent must be given against the current notice"
    PURPOSE_UNKNOWN = "purpose_unknown", 404, "no such consent purpose"
    CHANNEL_INVALID = "channel_invalid", 422, "no such consent channel"
    GUARDIAN_CONSENT_REQUIRED = (
        "guardian_consent_required",
        422,
        "the account holder is under 14: a parent or guardian must consent with them",
        (403,),
    )
    GUARDIAN_NOT_ADULT = "guardian_not_adult", 422, "the guardian must be an adult"
    GUARDIAN_IS_ACCOUNT_HOLDER = (
        "guardian_is_account_holder",
        422,
        "the guardian must be someone other than the account holder",
    )

    # Real-name authentication (the identity authority, the bank card) and its evidence.
    ID_NUMBER_INVALID = "id_number_invalid", 422, "the ID number is not valid"
    IDENTITY_UNKNOWN = "identity_unknown", 404, "the identity authority holds no record for this ID number"
    IDENTITY_NAME_MISMATCH = "identity_name_mismatch", 422, "the name does not match the ID number's record"
    IDENTITY_MISMATCH = (
        "identity_mismatch",
        422,
        "the identity authority could not confirm this name and ID number together",
    )
    REFERENCE_NO_FACE = "reference_no_face", 422, "no face was found in the reference photo"
    REFERENCE_MULTIPLE_FACES = "reference_multiple_faces", 422, "the reference photo shows more than one face"
    AUTHORITY_UNAVAILABLE = (
        "authority_unavailable",
        503,
        "the identity authority cannot be reached; use bank-card verification",
    )
    BANK_UNAVAILABLE = "bank_unavailable", 503, "bank verification cannot be reached; use face verification"
    CARD_NUMBER_INVALID = "card_number_invalid", 422, "the bank card number is not valid"
    BANK_CARD_UNKNOWN = "bank_card_unknown", 404, "no bank recognises this card number"
    BANK_ELEMENTS_MISMATCH = (
        "bank_elements_mismatch",
        422,
        "the bank reports that the name, ID number, card and mobile do not belong together",
    )
    BANK_CHALLENGE_NOT_FOUND = "bank_challenge_not_found", 404, "no such bank-card verification for this account"
    BANK_CHALLENGE_CLOSED = "bank_challenge_closed", 409, "this bank-card verification is finished; start a new one"
    BANK_CODE_WRONG = "bank_code_wrong", 422, "the code is not the one the bank sent"
    BANK_CODE_EXPIRED = "bank_code_expired", 409, "the code has expired; start the bank-card verification again"
    BANK_CODE_ATTEMPTS_EXHAUSTED = (
        "bank_code_attempts_exhausted",
        429,
        "too many wrong codes; start the bank-card verification again for a new code",
    )
    BANK_CODE_REQUESTS_EXHAUSTED = (
        "bank_code_requests_exhausted",
        429,
        "too many bank-card verifications today; try again tomorrow or use face verification",
    )
    REAL_NAME_REQUIRED = "real_name_required", 409, "this needs a completed real-name authentication"
    REAL_NAME_IDENTITY_BOUND = (
        "real_name_identity_bound",
        409,
        "this account's real name is already verified for another person",
    )
    REAL_NAME_NOT_BOUND = "real_name_not_bound", 409, "the account is not bound to an identity"
    KYC_FACE_REQUIRED = "kyc_face_required", 409, "this needs a real-name authentication by face"
    NO_REAL_NAME_EVIDENCE = (
        "no_real_name_evidence",
        404,
        "there is no real-name authentication evidence for this account",
    )
    RETENTION_PERIOD_ACTIVE = (
        "retention_period_active",
        409,
        "real-name authentication evidence must be kept for the anti-money-laundering period",
    )
    REASON_REQUIRED = "reason_required", 422, "say why (5 characters or more)"

    # Face checks: liveness sessions, captures, face matches, lockouts.
    LIVENESS_PURPOSE_UNKNOWN = "liveness_purpose_unknown", 422, "unknown liveness purpose"
    DEVICE_ID_INVALID = "device_id_invalid", 422, "a device id may not begin with 'terminal:'"
    LIVENESS_SESSION_NOT_FOUND = "liveness_session_not_found", 404, "no such liveness session"
    LIVENESS_SESSION_EXPIRED = "liveness_session_expired", 410, "this liveness session has expired; start a new one"
    LIVENESS_SESSION_USED = "liveness_session_used", 409, "this liveness session was already answered; start a new one"
    LIVENESS_NONCE_MISMATCH = (
        "liveness_nonce_mismatch",
        403,
        "the nonce does not belong to this session; the session is now void",
    )
    LIVENESS_FRAMES_REPLAYED = "liveness_frames_replayed", 409, "these frames were already used in a liveness session"
    LIVENESS_REQUIRED = "liveness_required", 403, "this needs a live face check of the account holder"
    CAPTURE_INVALID = "capture_invalid", 422, "the capture is not valid"
    VIDEO_TOO_LARGE = "video_too_large", 413, "the video is over the size limit"
    FACE_MISMATCH = "face_mismatch", 422, "the face does not match", (403,)
    FACE_ATTEMPTS_LOCKED = "face_attempts_locked", 429, "too many failed face attempts; try again later"
    TERMINAL_COOLING_DOWN = (
        "terminal_cooling_down",
        429,
        "several face attempts failed at this machine just now; try again shortly",
    )
    TEMPLATE_NOT_FOUND = "template_not_found", 404, "no face template is held for this purpose"

    # Devices: money leaves only from the account's bound device; getting back in on a new one.
    DEVICE_NOT_BOUND = (
        "device_not_bound",
        403,
        "this is a new device for this account: verify it's you before money can leave from it",
    )
    DEVICE_COOLING_DOWN = (
        "device_cooling_down",
        403,
        "this device was verified recently; money can leave from it once the cool-down ends",
    )
    DEVICE_ALREADY_BOUND = "device_already_bound", 409, "this device is already the account's device"
    DEVICE_ID_REQUIRED = "device_id_required", 422, "the platform did not name the device this token is for"
    DEVICE_REBIND_PROOF_INVALID = (
        "device_rebind_proof_invalid",
        403,
        "this needs a bank-card verification of this account completed with the bank's code minutes ago",
    )
    DEVICE_REVIEW_NOT_FOUND = "device_review_not_found", 404, "no such device review"
    DEVICE_REVIEW_DECIDED = "device_review_decided", 409, "this device review is already decided"

    # Face pay: enrolment, payments, the capture page, refunds, wallets.
    ENROLMENT_QUALITY = "enrolment_quality", 422, "the enrolment face is not good enough; do a new liveness check"
    DUPLICATE_IDENTITY = (
        "duplicate_identity",
        409,
        "this face is already enrolled for another identity; the case goes to review",
    )
    CURRENCY_UNSUPPORTED = "currency_unsupported", 422, "face pay takes CNY only"
    ORDER_ALREADY_OPEN = "order_already_open", 409, "this merchant order already has a paid or pending payment"
    INTENT_NOT_FOUND = "intent_not_found", 404, "no such payment"
    CAPTURE_SESSION_NOT_FOUND = "capture_session_not_found", 404, "this payment link is not valid"
    CAPTURE_NOT_EXPECTED = "capture_not_expected", 409, "this payment is not waiting for a face capture"
    PHONE_DIGITS_NOT_EXPECTED = "phone_digits_not_expected", 409, "this payment is not waiting for phone digits"
    PAYMENT_ALREADY_DECIDED = "payment_already_decided", 409, "this payment has already moved on"
    PAYMENT_EXPIRED = "payment_expired", 410, "this payment has expired; ask the merchant to start again"
    PAYMENT_NOT_REFUNDABLE = "payment_not_refundable", 409, "only a paid payment can be refunded"
    REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment", 422, "the refund is more than is left of the payment"
    REFUND_IN_PROGRESS = "refund_in_progress", 409, "a refund of this payment is being made; retry"
    MERCHANT_FUNDS_INSUFFICIENT = "merchant_funds_insufficient", 409, "the merchant's balance cannot cover this refund"
    INSUFFICIENT_FUNDS = "insufficient_funds", 409, "the account has too little money"
    ALREADY_POSTED = "already_posted", 409, "this ledger entry was already posted"
    AMOUNT_INVALID = "amount_invalid", 422, "the amount is not valid"
    TOP_UP_IN_PROGRESS = "top_up_in_progress", 409, "a top-up with this reference is being made; retry to read it"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", 409, "this idempotency key was used for a different request"
    # The person's own face-pay controls (issue 24): limits, pause, disputes.
    OWN_LIMIT_ABOVE_PLATFORM = (
        "own_limit_above_platform",
        422,
        "your own face-pay limit must be at or below the platform's",
    )
    OWN_LIMITS_INCONSISTENT = (
        "own_limits_inconsistent",
        422,
        "your own per-payment limit cannot be above your own daily limit",
    )
    FACE_PAY_NOT_ENABLED = "face_pay_not_enabled", 409, "face pay is not switched on for this account"
    PAYMENT_NOT_DISPUTABLE = "payment_not_disputable", 409, "only a paid face payment can be disputed"

    # Webhooks to the platform's back end.
    WEBHOOK_URL_INVALID = "webhook_url_invalid", 422, "the webhook URL must be an http(s) URL with a host"
    WEBHOOK_KIND_UNKNOWN = "webhook_kind_unknown", 422, "unknown webhook event kind"
    WEBHOOK_ENDPOINT_LIMIT = "webhook_endpoint_limit", 409, "the platform has the most webhook endpoints allowed"
    WEBHOOK_ENDPOINT_NOT_FOUND = "webhook_endpoint_not_found", 404, "no such webhook endpoint"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled", 409, "the webhook endpoint is disabled"
    WEBHOOK_DELIVERY_NOT_FOUND = "webhook_delivery_not_found", 404, "no such webhook delivery"

    # Merchants and their terminals (signed requests).
    MERCHANT_NOT_FOUND = "merchant_not_found", 404, "no such merchant"
    MERCHANT_NOT_ACTIVE = "merchant_not_active", 403, "the merchant cannot take payments"
    FEE_INVALID = "fee_invalid", 422, "the fee is 0 to 1000 basis points (0-10%)"
    SIGNATURE_MISSING = (
        "signature_missing",
        401,
        "terminal requests need X-Terminal-Id, X-Timestamp, X-Nonce and X-Signature headers",
    )
    SIGNATURE_INVALID = "signature_invalid", 401, "the request signature does not verify"
    SIGNATURE_STALE = "signature_stale", 401, "the request was signed too long ago; check the terminal's clock"
    TERMINAL_UNKNOWN = "terminal_unknown", 401, "unknown or revoked terminal"
    NONCE_REUSED = "nonce_reused", 409, "this nonce was already used; every request needs a new one"

    # Credit: lines, installment checkouts, loans, repayments.
    INSUFFICIENT_CREDIT = "insufficient_credit", 409, "the credit line does not have this much available"
    CREDIT_IN_PROGRESS = "credit_in_progress", 409, "this drawdown or checkout is being made; retry to read it"
    PRODUCT_NOT_FOUND = "product_not_found", 404, "no such credit product"
    PRODUCT_NOT_OFFERED = "product_not_offered", 422, "this product is not offered for this order"
    TERM_NOT_OFFERED = "term_not_offered", 422, "this number of periods is not offered"
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range", 422, "the amount is outside the product's range"
    NO_INSTALLMENT_OFFER = "no_installment_offer", 422, "no installment product covers this order"
    ORDER_ALREADY_OFFERED = "order_already_offered", 409, "this merchant order was already offered on installments"
    CHECKOUT_NOT_FOUND = "checkout_not_found", 404, "no such checkout"
    CHECKOUT_EXPIRED = "checkout_expired", 410, "this installment offer has expired; start the checkout again"
    CHECKOUT_ALREADY_CONFIRMED = "checkout_already_confirmed", 409, "this order is already paid on installments"
    PLAN_NOT_FOUND = "plan_not_found", 404, "no such plan"
    PLAN_PAID_OFF = "plan_paid_off", 409, "this plan is already paid off"
    INSTALLMENT_DUE_FIRST = "installment_due_first", 409, "pay the due or overdue installment before prepaying"
    REPAYMENT_KIND_UNKNOWN = "repayment_kind_unknown", 422, "no such kind of repayment"
    REPAYMENT_IN_PROGRESS = "repayment_in_progress", 409, "a repayment of this plan is being made; look again"
    # Returns of goods bought on installments (credit/returns.py).
    CHECKOUT_NOT_CONFIRMED = (
        "checkout_not_confirmed",
        409,
        "this order was not bought on installments; there is nothing to return",
    )
    PLAN_ALREADY_RETURNED = "plan_already_returned", 409, "everything bought with this plan was already returned"
    RETURN_EXCEEDS_PURCHASE = "return_exceeds_purchase", 422, "the return is more than is left of the order to return"
    CREDIT_RETURN_IN_PROGRESS = (
        "credit_return_in_progress",
        409,
        "this plan is changing (a return or a repayment); retry to read the return",
    )

    # Risk control and the operator console.
    RISK_DECLINED = "risk_declined", 403, "this was declined by risk control"
    SECOND_OPERATOR_REQUIRED = (
        "second_operator_required",
        403,
        "the operator who froze this account cannot unfreeze it; another operator must review it",
    )
    CASE_NOT_FOUND = "case_not_found", 404, "no such case"
    CASE_CLOSED = "case_closed", 409, "this case is closed"
    CASE_OUTCOME_UNKNOWN = "case_outcome_unknown", 422, "no such case outcome"
    DECISION_NOT_FOUND = "decision_not_found", 404, "no such risk decision"
    QUERY_EMPTY = "query_empty", 422, "give an account id, a platform user id, a mobile or an ID number"
    DAY_OUT_OF_RANGE = "day_out_of_range", 422, "the day's bounds fall outside the calendar"
    CURSOR_INVALID = "cursor_invalid", 422, "the page cursor is not one this service gave; start from the first page"
    TIME_RANGE_INVALID = "time_range_invalid", 422, "the start of the time range is not before its end"


class LivenessReason(StrEnum):
    """Why a liveness check failed: a decided session's ``reasons`` (its first is the ``outcome`` a
    person sees). Answered 200 with the decision, not as an error; the pages explain them."""

    FACE_NOT_FOUND = "face_not_found"
    MULTIPLE_FACES = "multiple_faces"
    FACE_CHANGED = "face_changed"
    ACTION_NOT_PERFORMED = "action_not_performed"
    PLANAR_MOTION = "planar_motion"
    PRESENTATION_ATTACK_SUSPECTED = "presentation_attack_suspected"
    CAPTURE_SPLICED = "capture_spliced"
    STATIC_CAPTURE = "static_capture"
    TIMING_IMPLAUSIBLE = "timing_implausible"
    CHALLENGE_TOO_WEAK = "challenge_too_weak"
    NONCE_MISMATCH = "nonce_mismatch"
    FRAMES_REPLAYED = "frames_replayed"
    CAPTURE_INVALID = "capture_invalid"
    LIVENESS_FAILED = "liveness_failed"  # the outcome of a failed session that records no reason


class DeclineReason(StrEnum):
    """Why a face payment was declined (``decline_reason``), shown to the payer on the capture page."""

    EXPIRED = "expired"
    LIVENESS_FAILED = "liveness_failed"
    NOT_RECOGNISED = "not_recognised"
    PHONE_DIGITS_WRONG = "phone_digits_wrong"
    STEP_UP_FACE_MISMATCH = "step_up_face_mismatch"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    FACE_ATTEMPTS_LOCKED = "face_attempts_locked"
    RISK_DECLINED = "risk_declined"
    LIMIT_EXCEEDED = "limit_exceeded"
    OWN_LIMIT_EXCEEDED = "own_limit_exceeded"  # the payer's own limit (issue 24), at or below the platform's
    FACE_PAY_PAUSED = "face_pay_paused"  # the payer paused face pay between identification and payment
    INSUFFICIENT_FUNDS = "insufficient_funds"
