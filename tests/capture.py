"""Liveness captures for tests, cut from the shared face clips (real people), and the steps that
get an account a passed liveness session over HTTP."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np

from facetrust.liveness.models import LivenessSession


def clip_frames(shared_data: Path, clip: str, start: int, stop: int, step: int = 1) -> tuple[list[np.ndarray], list[float]]:
    """Frames start..stop-1 (every step-th) of a clip, with their timestamps from the first one."""
    capture = cv2.VideoCapture(str(shared_data / "face-clips" / clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames, times, index = [], [], 0
    while index < stop:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= start and (index - start) % step == 0:
            frames.append(frame)
            times.append((index - start) * 1000.0 / fps)
        index += 1
    capture.release()
    return frames, times


def as_burst(frames: list[np.ndarray], times: list[float], nonce: str) -> dict:
    """The capture request body: JPEG frames with timestamps, as a phone's capture page sends them."""
    def jpeg(frame: np.ndarray) -> str:
        return base64.b64encode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()).decode()

    return {"nonce": nonce, "frames": [{"t_ms": t, "image_base64": jpeg(f)} for f, t in zip(frames, times)]}


def new_session(client, app, h, purpose: str, actions: list[str] | None = None, device_id: str | None = None) -> dict:
    """Create a session over HTTP; ``actions`` then fixes the challenge to what the clip shows."""
    body = {"purpose": purpose, **({"device_id": device_id} if device_id else {})}
    r = client.post("/v1/me/liveness-sessions", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    if actions is not None:
        with app.state.sessions() as s:
            s.get(LivenessSession, created["session_id"]).actions = json.dumps(actions)
            s.commit()
        created["actions"] = actions
    return created


# A real person turning to their right (frames 5-27) and then blinking (47-52), at 30 fps.
D3_TURN_THEN_BLINK = ("d3.mp4", 0, 64, ["turn_right", "blink"])


def passed_session(client, app, h, shared_data: Path, purpose: str, offset: int = 0,
                   take: tuple = D3_TURN_THEN_BLINK) -> str:
    """A passed liveness session for ``purpose``. Offset 0 takes the clip's even frames and offset 1
    its odd ones, so a test can pass twice without replaying a frame."""
    clip, start, stop, actions = take
    created = new_session(client, app, h, purpose, actions)
    frames, times = clip_frames(shared_data, clip, start + offset, stop + offset, 2)
    r = client.post(f"/v1/me/liveness-sessions/{created['session_id']}/capture", json=as_burst(frames, times, created["nonce"]), headers=h)
    assert r.status_code == 200 and r.json()["status"] == "passed", r.text
    return created["session_id"]
