"""Request and response shapes of the consent routes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class GuardianIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    name: str = Field(min_length=1, max_length=64)
    relation: str = Field(min_length=1, max_length=32)
    id_number: str = Field(min_length=18, max_length=18)


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # exact JSON types: no true as 1, "100" or 100.0

    notice_version: str = Field(min_length=1, max_length=16)
    channel: str = "app"
    guardian: GuardianIn | None = None


class NoticeOut(BaseModel):
    purpose: str
    version: str
    zh: str
    en: str


class ConsentEventOut(BaseModel):
    purpose: str
    action: str
    notice_version: str | None
    channel: str
    at: dt.datetime
    with_guardian: bool


class ConsentStateOut(BaseModel):
    granted: dict[str, bool]
    history: list[ConsentEventOut]
