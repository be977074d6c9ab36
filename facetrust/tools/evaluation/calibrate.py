"""Build a calibration file from a labelled image folder (every cross-identity pair an impostor)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np

from facetrust import __version__
from facetrust.biometrics.calibration import Calibration, fit
from facetrust.tools.evaluation import lfw, metrics


def calibrate_folder(images_dir: Path, workers: int, source: str) -> Calibration:
    files = lfw.list_images(images_dir)
    results = lfw.extract_all("facetrust", images_dir, files, workers, threads=1)
    valid = np.array([r.vector is not None for r in results])
    x = np.stack([r.vector if r.vector is not None else np.zeros(128) for r in results])
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    labels = np.array([f.split("/")[0] for f in files])
    # Failures to enrol are left out here: they carry no score, and -inf would flatter the tail.
    keep = np.where(valid)[0]
    gen, imp, _, _ = metrics.all_pair_scores(
        metrics.cosine_blocks(x[keep]), np.ones(keep.size, bool), labels[keep], max_impostors=10**9
    )
    from facetrust.bootstrap import face_engine

    model_id = face_engine().model_id
    provenance = {
        "source": source or str(images_dir),
        "images": int(valid.sum()),
        "failures_to_enrol": int((~valid).sum()),
        "identities": int(len(set(labels[keep]))),
        "genuine_pairs": int(gen.size),
        "file_list_sha256": hashlib.sha256("\n".join(files).encode()).hexdigest(),
        "created": dt.date.today().isoformat(),
        "facetrust_version": __version__,
        "method": "threshold = impostor-score quantile at each profile's target FMR",
    }
    return fit(imp, model_id, provenance)
