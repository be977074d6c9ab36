"""Face templates: an embedding together with the model that made it.

Scores from different models (or versions of one model) live on different scales and mean
different things, so a template always carries its model id and refuses to be compared with a
template of another model. The serialised form is what the security layer encrypts at rest.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from facetrust.biometrics.errors import TemplateMismatch

_MAGIC = b"FTT1"


@dataclass(frozen=True)
class Template:
    model_id: str  # names model and version, e.g. "sface-2021dec/flip-avg"
    vector: np.ndarray  # float32, L2-normalised

    def __post_init__(self) -> None:
        vec = np.asarray(self.vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(vec))
        if not np.isfinite(norm) or norm == 0.0:
            raise ValueError("a template vector must be finite and non-zero")
        object.__setattr__(self, "vector", vec / norm)

    def to_bytes(self) -> bytes:
        header = json.dumps({"model_id": self.model_id, "dim": int(self.vector.size)}).encode()
        return _MAGIC + struct.pack(">I", len(header)) + header + self.vector.astype("<f4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Template:
        if data[:4] != _MAGIC:
            raise ValueError("not a FaceTrust template")
        (hlen,) = struct.unpack(">I", data[4:8])
        header = json.loads(data[8 : 8 + hlen])
        vector = np.frombuffer(data[8 + hlen :], dtype="<f4")
        if vector.size != header["dim"]:
            raise ValueError("template vector length does not match its header")
        return cls(model_id=header["model_id"], vector=vector.copy())


def similarity(a: Template, b: Template) -> float:
    """Cosine similarity of two templates of the same model."""
    if a.model_id != b.model_id:
        raise TemplateMismatch(
            f"templates of model {a.model_id!r} and {b.model_id!r} cannot be compared; "
            "re-enrol the face with the current model"
        )
    return float(np.dot(a.vector, b.vector))
