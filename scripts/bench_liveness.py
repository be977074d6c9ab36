"""CPU and wall time of the whole liveness decision for one capture, as the service makes it: JPEG
decoding, content hashes, finding and following the face, the mesh, embeddings, the passive model,
every check and the fingerprints. The headline is an 8-frame payment capture (a blink, as a payment
asks); a 15-frame two-action capture is measured too, and a 32-frame payment capture as the capture
page records it (1 s to get ready and 2.6 s for the action at 9 fps).

    .venv/bin/python scripts/bench_liveness.py [--data ../shared/data] [--runs 30] [--json OUT]

CPU time is the process's (all threads), so it counts what a payment costs the server whatever the
number of workers; wall time is what one capture waits on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2

from facetrust.biometrics.engine import FaceEngine
from facetrust.bootstrap import face_engine
from facetrust.liveness import frames as frames_mod
from facetrust.liveness.decision import DecisionPolicy, decide
from facetrust.liveness.service import capture_limits
from facetrust.liveness.texture import TextureModel
from facetrust.settings import get_settings


def clip_burst(path: Path, start: int, n: int, step: int) -> list[tuple[bytes, float]]:
    """n frames of a clip from ``start``, every ``step``-th, as the capture page sends them (640 px
    JPEG at quality 90), with the clip's own timestamps."""
    capture, out, index = cv2.VideoCapture(str(path)), [], 0
    fps = capture.get(cv2.CAP_PROP_FPS)
    while len(out) < n:
        ok, frame = capture.read()
        if not ok:
            break
        if index >= start and (index - start) % step == 0:
            scale = 640 / max(frame.shape[:2])
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
            data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            out.append((data, (index - start) * 1000.0 / fps))
        index += 1
    return out


def measure(engine: FaceEngine, texture: TextureModel, burst, actions: list[str], runs: int) -> dict:
    limits = capture_limits(get_settings())
    cpu, wall, passed = [], [], []
    for _ in range(runs + 1):
        c0, w0 = time.process_time(), time.perf_counter()
        frames = frames_mod.from_images(engine, burst, limits)
        result = decide(engine, texture, frames, actions, DecisionPolicy())
        cpu.append((time.process_time() - c0) * 1000.0)
        wall.append((time.perf_counter() - w0) * 1000.0)
        passed.append(result.passed)
    cpu, wall = cpu[1:], wall[1:]  # the first run warms the models up
    return {
        "frames": len(burst),
        "actions": actions,
        "passed": all(passed[1:]),
        "cpu_ms_median": round(statistics.median(cpu), 1),
        "cpu_ms_p95": round(sorted(cpu)[int(0.95 * len(cpu)) - 1], 1),
        "wall_ms_median": round(statistics.median(wall), 1),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=get_settings().shared_data)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    engine, texture = face_engine(settings), TextureModel.load()
    clips = args.data / "face-clips"
    cases = {
        # d9: a man with glasses blinking (labelled frames 10-18): frames 6-20, 8 frames at 15 fps
        "payment, 8 frames, blink (d9 512x480)": (clip_burst(clips / "d9.mp4", 6, 8, 2), ["blink"]),
        # the capture page records a payment's blink for 1 s + 2.6 s at 9 fps (camera.js): about 32
        # frames, here d9's first 3.2 s at 10 fps
        "payment as the page sends it, 32 frames, blink (d9 512x480)": (
            clip_burst(clips / "d9.mp4", 0, 32, 3),
            ["blink"],
        ),
        # d3: a woman turning to her right, then blinking: 15 frames over 2 s
        "real-name, 15 frames, turn right + blink (d3 512x512)": (
            clip_burst(clips / "d3.mp4", 0, 15, 4),
            ["turn_right", "blink"],
        ),
    }
    report = {"threads": settings.threads, "cases": {}}
    for name, (burst, actions) in cases.items():
        result = measure(engine, texture, burst, actions, args.runs)
        report["cases"][name] = result
        print(
            f"{name}: CPU median {result['cpu_ms_median']} ms (p95 {result['cpu_ms_p95']}), wall median "
            f"{result['wall_ms_median']} ms, passed {result['passed']}, {settings.threads} workers"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
