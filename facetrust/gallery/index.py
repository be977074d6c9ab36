"""The small interface every gallery engine implements, so the payment flow does not care which
engine answers: the in-process one (default) or a scale-out vector database.

Keys are account ids; vectors are L2-normalised float32 templates of one model, so the inner
product is the cosine score the calibration speaks of. ``search`` returns the engine's best
candidates with their exact cosine scores (each engine re-ranks its own candidates exactly); the
gallery service then re-scores the final few against the sealed templates in the database, which
is the authority on who is still enrolled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class GalleryIndex(Protocol):
    name: str

    def build(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Replace the whole content (start-up rebuild from the database)."""

    def add(self, key: str, vector: np.ndarray) -> None:
        """Enrol or re-enrol one key; an existing vector under the key is replaced."""

    def remove(self, key: str) -> bool:
        """Forget a key at once (a revoke); False if it was not there."""

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` (key, cosine) pairs, best first."""

    def __len__(self) -> int: ...


def normalised(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of unit length (templates are stored normalised; this guards the index)."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


def build_input(keys: Sequence[str], vectors: np.ndarray, dim: int) -> tuple[list[str], np.ndarray]:
    """The arguments of ``build``, checked: unique keys, one float32 vector of ``dim`` per key."""
    keys = [str(k) for k in keys]
    if len(set(keys)) != len(keys):
        raise ValueError("build keys must be unique")
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    if len(vectors) != len(keys):
        raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
    return keys, vectors
