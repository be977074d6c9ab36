"""Write the shipped passive PAD model (used by train_pad_texture.py): the weights, the JSON with
threshold, crop spec, provenance and figures, the check that the runtime (OpenCV only) reproduces
the training scores, and the speed per crop on one thread."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import cv2
import numpy as np

if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_pad_data as D  # noqa: E402

from facetrust.liveness import texture  # noqa: E402


def _rows(table: dict) -> dict:
    return {
        name: {
            "metric": r["metric"],
            **{k: {"rate": round(r[k][0], 4), "errors": r[k][1], "n": r[k][2]} for k in ("frame", "window", "capture")},
        }
        for name, r in table.items()
    }


def figures(res: dict) -> dict:
    out = {"held_out": _rows(res["held_out"])}
    if "loso" in res:
        out["leave_one_source_out"] = {
            s: {"threshold": r["threshold"], "rows": _rows(r["rows"])} for s, r in res["loso"].items()
        }
    return out


def library_versions() -> dict:
    import sklearn
    import torch

    return {
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
    }


def provenance(res, d, split, family_name: str, other: dict) -> dict:
    from train_pad_texture import FRAMES_PER_CAPTURE, INNER_BPCER, row_masks, split_masks, trainable

    train, _ = split_masks(d, split)
    mask = train & trainable(d)
    return {
        "script": "scripts/train_pad_texture.py",
        "seed": D.SEED,
        "split": "facetrust/liveness/pad_split.json",
        "train_frames": {name: int((sel & mask).sum()) for name, sel in row_masks(d).items() if (sel & mask).any()},
        "threshold_rule": f"lowest threshold at which each bona fide domain (NUAA, clips, LFW), left out of "
        f"training with every attack made from it, has capture BPCER <= {INNER_BPCER:g}; "
        f"capture score = mean of {FRAMES_PER_CAPTURE} evenly spaced frames of an "
        f"{D.WINDOW}-frame window",
        "threshold_per_left_out_domain": {k: round(v["threshold"], 4) for k, v in res["threshold_rule"].items()},
        "figures": figures(res),
        "other_family": other,
        "libraries": library_versions(),
        "family": family_name,
    }


def write(ship: str, results: dict, d, split, args, log) -> None:
    names = {"cnn": "pad-cnn", "lbp": "colour-lbp"}
    res = results[names[ship]]
    others = {n: figures(r) for n, r in results.items() if n != names[ship]}
    prov = provenance(res, d, split, names[ship], others)
    if ship == "cnn":
        path = write_cnn(res, prov, args.out_dir, log)
        model = texture.CNNTextureModel.load(path)
    else:
        path = write_lbp(res, prov, args.out_dir)
        model = texture.ColourLBPModel.load(path)
    log(f"\nWrote {path} ({path.stat().st_size} bytes); model id {model.model_id}, threshold {model.threshold}")
    check_runtime(model, res, d, log)
    measure_speed(model, args.data, log)
    measure_project_injections(model, args.data, split, log)


def write_cnn(res, prov, out_dir: Path, log) -> Path:
    import train_pad_cnn as C

    onnx = C.export_onnx(res["model"].trained)
    onnx_path = out_dir / texture.CNN_ONNX_NAME
    onnx_path.write_bytes(onnx)
    payload = {
        "format": texture.CNN_FORMAT,
        "format_version": texture.CNN_FORMAT_VERSION,
        "name": texture.CNN_MODEL_NAME,
        "network": {
            "file": texture.CNN_ONNX_NAME,
            "sha256": hashlib.sha256(onnx).hexdigest(),
            "bytes": len(onnx),
            "input": [3, C.INPUT, C.INPUT],
            "layout": "NCHW",
            "colour": "BGR",
            "scale": f"(x / 255 - {C.MEAN}) / {C.STD}",
            "mean": C.MEAN,
            "std": C.STD,
            "resize": "INTER_AREA from the crop",
            "output": "probability of a presentation attack",
            "architecture": f"6 x (conv3x3 + BN + ReLU), 4 with stride 2, widths "
            f"{C.WIDTH}-{2 * C.WIDTH}-{2 * C.WIDTH}-{4 * C.WIDTH}-{4 * C.WIDTH}-{8 * C.WIDTH}; "
            "global average pooling; linear; sigmoid",
            "training": {
                "epochs": C.EPOCHS,
                "samples_per_epoch": C.SAMPLES_PER_EPOCH,
                "batch": C.BATCH,
                "lr": C.LR,
                "weight_decay": C.WEIGHT_DECAY,
                "augmentation": "framing, flip, exposure/white balance/gamma, lower resolution, "
                "blur, noise, JPEG (both classes alike)",
            },
        },
        "crop": texture.crop_spec(),
        "threshold": res["threshold"],
        "window": D.WINDOW,
        "frames_per_capture": 3,
        "decision": "attack when the mean frame score of the scored frames (at most `window`, "
        "`frames_per_capture` evenly spaced ones recommended) >= threshold",
        "provenance": prov,
    }
    payload["sha256"] = texture.payload_digest(payload)
    path = out_dir / texture.CNN_WEIGHTS_NAME
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path


def write_lbp(res, prov, out_dir: Path) -> Path:
    from train_pad_texture import LBP_C, LBP_SPEC

    m = res["model"]
    sig = lambda a: [float(f"{v:.7g}") for v in a]  # noqa: E731
    payload = {
        "format": texture.FORMAT,
        "format_version": texture.FORMAT_VERSION,
        "name": texture.MODEL_NAME,
        "crop": texture.crop_spec(),
        "features": LBP_SPEC.to_dict(),
        "scaler": {"mean": sig(m.mean), "scale": sig(m.scale)},
        "classifier": {
            "type": "logistic",
            "coef": sig(m.coef),
            "intercept": float(f"{m.intercept:.7g}"),
            "C": LBP_C,
            "output": "probability of a presentation attack",
        },
        "threshold": res["threshold"],
        "window": D.WINDOW,
        "frames_per_capture": 3,
        "decision": "attack when the mean frame score of the scored frames >= threshold",
        "provenance": prov,
    }
    payload["sha256"] = texture.payload_digest(payload)
    path = out_dir / texture.LBP_WEIGHTS_NAME
    path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return path


def check_runtime(model, res, d, log) -> None:
    """The runtime (OpenCV dnn / numpy) gives the training code's scores on every crop."""
    runtime = np.concatenate(
        [model.frame_scores(list(d["crops"][i : i + 256])) for i in range(0, len(d["crops"]), 256)]
    )
    diff = np.abs(runtime - res["scores"])
    log(f"  runtime vs training scores on {len(diff)} crops: max |difference| {diff.max():.2e}")
    if diff.max() > 1e-4:
        raise SystemExit("the runtime does not reproduce the training scores")


def measure_speed(model, data: Path, log) -> None:
    """Crop + preprocessing + network per crop, on real 640x480 NUAA frames, one OpenCV thread."""
    detector = D.make_detector()
    paths = sorted((data / "nuaa-dev" / "ClientRaw").glob("*/*.jpg"))[::10][:60]
    pairs = []
    for p in paths:
        image = cv2.imread(str(p), cv2.IMREAD_COLOR)
        face = D.choose_subject(detector.detect(image), image.shape)
        if face is not None:
            pairs.append((image, face))
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        per = []
        for _ in range(3):
            for image, face in pairs:
                t0 = time.perf_counter()
                model.frame_score(image, face)
                per.append(time.perf_counter() - t0)
        three = []
        for k in range(0, len(pairs) - 2, 3):
            t0 = time.perf_counter()
            model.frame_scores([texture.face_crop(im, f) for im, f in pairs[k : k + 3]])
            three.append(time.perf_counter() - t0)
    finally:
        cv2.setNumThreads(threads)
    log(
        f"  speed, 1 OpenCV thread, 640x480 NUAA frames: crop + score median {1000 * np.median(per):.2f} ms, "
        f"p95 {1000 * np.percentile(per, 95):.2f} ms per crop ({len(per)} crops); 3 crops of a capture in one "
        f"call: median {1000 * np.median(three):.2f} ms"
    )


def measure_project_injections(model, data: Path, split: dict, log) -> dict:
    """The project's own injection generators (facetrust.tools.attacks make_still_injection, every
    variant, and make_noise_replay), applied to held-out bona fide windows (2 per held-out NUAA
    session, 3 per held-out clip) and written as the attacker would (JPEG 95): how many of them the
    passive model calls attacks. Made of real camera frames, they are expected to pass."""
    from collections import defaultdict

    from facetrust.tools import attacks
    from facetrust.tools.evaluation.captures import Capture

    detector = D.make_detector()

    def jpeg95(frame):
        return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], cv2.IMREAD_COLOR)

    def capture_score(frames):
        crops = [c for c, _ in (D.detect_crop(detector, f) for f in frames) if c is not None]
        return (
            model.sequence_score(model.frame_scores([crops[i] for i in model.capture_frames(len(crops))]))
            if crops
            else None
        )

    wins = []
    for (kind, key), paths in D.nuaa_recordings(data).items():
        if kind == "ClientRaw" and key[:4] in split["nuaa"]["test_subjects"]:
            frames = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
            wins += [(key, frames[sl]) for sl in D.spread(D.window_slices(len(frames)), 2)]
    for clip in split["face_clips"]["test_clips"]:
        frames = D.clip_frames(data / "face-clips" / f"{clip}.mp4", D.CLIP_STRIDE)
        wins += [(clip, frames[sl]) for sl in D.spread(D.window_slices(len(frames)), 3)]
    out = defaultdict(list)
    for k, (name, frames) in enumerate(wins):
        capture = Capture(
            name=name,
            folder=Path("."),
            label="bona fide",
            species="bona fide",
            purpose="payment",
            actions=("blink",),
            t_ms=tuple(100.0 * i for i in range(len(frames))),
            frame_paths=(),
        )
        out["bona fide source windows"].append(capture_score(frames))
        for variant in attacks.STILL_VARIANTS:
            a = attacks.make_still_injection(capture, frames, np.random.default_rng([D.SEED, k]), detector, variant)
            out[f"still_injection/{variant}"].append(capture_score([jpeg95(f) for f in a.frames]))
        a = attacks.make_noise_replay(capture, frames, np.random.default_rng([D.SEED + 1, k]))
        out["noise_replay"].append(capture_score([jpeg95(f) for f in a.frames]))
    log(f"\nProject injection generators on {len(wins)} held-out bona fide windows (threshold {model.threshold}):")
    result = {}
    for name, values in out.items():
        v = np.array([x for x in values if x is not None])
        result[name] = {
            "n": len(v),
            "at_or_above_threshold": round(float(np.mean(v >= model.threshold)), 4),
            "median": round(float(np.median(v)), 4),
        }
        log(
            f"  {name:26s} n={len(v):3d}  scored as attack {100 * np.mean(v >= model.threshold):5.1f}%  "
            f"median score {np.median(v):.3f}"
        )
    return result


if __name__ == "__main__":  # measure the shipped model on the project's injection generators
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description="measure the shipped passive model on the project's injections")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    here = Path(texture.__file__).parent
    measure_project_injections(
        texture.TextureModel.load(), args.data, json.loads((here / "pad_split.json").read_text()), print
    )
