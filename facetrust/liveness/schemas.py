"""Request and response shapes of the liveness API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What the capture page shows for each action (the subject's own left and right).
INSTRUCTIONS = {
    "blink": {"zh": "请眨眨眼", "en": "Blink"},
    "turn_left": {"zh": "请向左转头", "en": "Turn your head to your left"},
    "turn_right": {"zh": "请向右转头", "en": "Turn your head to your right"},
    "nod": {"zh": "请先抬头，再低头", "en": "Look up, then down"},
    "open_mouth": {"zh": "请张嘴", "en": "Open your mouth"},
}


class LivenessSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"purpose": "real_name"}]})

    purpose: str = Field(
        min_length=1,
        max_length=32,
        description="real_name, face_pay_enrolment, payment, installment, loan or device_rebind",
    )


class CapturedFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t_ms: float = Field(ge=0, description="milliseconds since the first frame of the capture")
    image_base64: str = Field(min_length=1, max_length=4_000_000, description="JPEG, PNG or WebP, base64")


class CaptureIn(BaseModel):
    """Either a burst of frames with their timestamps, or one short video (MP4, WebM...)."""

    model_config = ConfigDict(extra="forbid")

    nonce: str = Field(min_length=1, max_length=64)
    frames: list[CapturedFrame] | None = Field(default=None, max_length=1000)
    video_base64: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> CaptureIn:
        if (self.frames is None) == (self.video_base64 is None):
            raise ValueError("send either frames or video_base64, not both and not neither")
        return self


# What an end user is told about a decided session: a stable outcome code (one of its reasons) and
# this message. Scores, thresholds, per-check measures and model versions are for operators only
# (``LivenessSessionOperatorOut``): shown to the person being checked, they tell an attacker how
# near a forged capture came and which check to work on.
MESSAGES = {
    "passed": "The liveness check passed.",
    "face_not_found": "No face was seen; face the camera with your whole face in the frame.",
    "multiple_faces": "More than one face was in view.",
    "face_changed": "The face changed during the check; the same person must complete it alone.",
    "action_not_performed": "The requested actions were not seen; follow the prompts in order.",
    "expired": "The check timed out; start a new one.",
}
FAILED_MESSAGE = "The liveness check did not pass; in good light, follow the prompts yourself and try again."


class LivenessSessionOut(BaseModel):
    """A session as its owner sees it."""

    session_id: str
    purpose: str
    actions: list[str]
    instructions: list[dict[str, str]]
    status: str  # pending | passed | failed
    created_at: dt.datetime
    expires_at: dt.datetime
    nonce: str | None = None  # only in the answer that creates the session
    decided_at: dt.datetime | None = None
    outcome: str | None = None  # once decided: "passed", else the first reason (a stable code)
    message: str | None = None  # the outcome in words
    reasons: list[str] = []
    missing_actions: list[str] = Field(
        [],
        description="of a failed check, the requested actions that were not seen (in the order asked), so the "
        "person can be told which one to do again",
    )
    attempts_left: int | None = Field(
        None,
        description="in the answer to a failed capture: how many more failed face checks are allowed before "
        "face checks are paused for a while (`face_attempts_locked`); absent at a vending machine",
    )


class LivenessSessionOperatorOut(LivenessSessionOut):
    """A session with what the decision was made of: for operators, never for the person checked."""

    account_id: str | None
    device_id: str | None
    score: float | None = None
    checks: dict | None = None
    versions: dict | None = None
