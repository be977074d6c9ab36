"""Time to decide one 15-frame liveness capture, end to end as the service does it (JPEG decoding,
content hashes, detection, landmarks, embedding, texture, every check), on shared-data frames.

    .venv/bin/python scripts/bench_liveness.py [--data ../shared/data] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from facetrust.biometrics.engine import FaceEngine
from facetrust.liveness import frames as frames_mod
from facetrust.liveness.decision import DecisionPolicy, decide
from facetrust.liveness.service import capture_limits
from facetrust.liveness.texture import TextureModel
from facetrust.settings import get_settings


def jpeg_burst(paths: list[Path]) -> list[tuple[bytes, float]]:
    return [(p.read_bytes(), i * 1000.0 / 15) for i, p in enumerate(paths)]


def clip_burst(path: Path, n: int) -> list[tuple[bytes, float]]:
    capture, out = cv2.VideoCapture(str(path)), []
    while len(out) < n:
        ok, frame = capture.read()
        if not ok:
            break
        out.append((cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes(), len(out) * 1000.0 / 15))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=get_settings().shared_data)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    settings = get_settings()
    engine = FaceEngine.from_settings(settings)
    texture, limits = TextureModel.load(), capture_limits(settings)
    nuaa = sorted((args.data / "nuaa-dev/ClientRaw/0007").glob("0007_00_00_01_*.jpg"),
                  key=lambda p: int(p.stem.rsplit("_", 1)[1]))[:15]
    captures = {"NUAA 640x480": jpeg_burst(nuaa), "clip d3 512x512": clip_burst(args.data / "face-clips/d3.mp4", 15)}
    for name, burst in captures.items():
        times = []
        for _ in range(args.runs + 1):
            t0 = time.perf_counter()
            frames = frames_mod.from_images(engine, burst, limits)
            decide(engine, texture, frames, ["blink", "turn_left"], DecisionPolicy())
            times.append((time.perf_counter() - t0) * 1000.0)
        times = times[1:]  # the first run warms the models up
        print(f"{name}: 15 frames decided in median {statistics.median(times):.0f} ms, "
              f"max {max(times):.0f} ms over {args.runs} runs ({settings.threads} threads)")


if __name__ == "__main__":
    main()
