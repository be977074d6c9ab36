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
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, max_length=32, description="real_name, face_pay_enrolment, payment, installment or loan")
    device_id: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="the client device's stable id; failures are also counted per device")


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
    def _one_kind(self) -> "CaptureIn":
        if (self.frames is None) == (self.video_base64 is None):
            raise ValueError("send either frames or video_base64, not both and not neither")
        return self


class LivenessSessionOut(BaseModel):
    session_id: str
    purpose: str
    actions: list[str]
    instructions: list[dict[str, str]]
    status: str  # pending | passed | failed
    created_at: dt.datetime
    expires_at: dt.datetime
    nonce: str | None = None  # only in the answer that creates the session
    decided_at: dt.datetime | None = None
    score: float | None = None
    reasons: list[str] = []
    checks: dict | None = None
    versions: dict | None = None
