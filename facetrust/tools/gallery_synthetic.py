"""Synthetic face templates drawn to resemble real SFace template statistics, for gallery benchmarks.

A 1:N engine's speed and, above all, its recall depend on how the stored vectors are spread: random
unit vectors in 128-d are nearly orthogonal to each other and make every approximate index look
perfect, while real templates share a common direction and a few dominant axes, and a genuine probe
sits only at cosine 0.5-0.8 from its enrolled template. So the generator is fitted on real
templates (SFace, from LFW images, through the real pipeline) as a two-level Gaussian model:

    identity centre   c = mean + B z              (B B^T: between-identity covariance)
    one capture       x = normalise(c + s W e)    (W W^T: within-identity covariance)

with z, e standard normal and s = exp(spread g - spread^2), g standard normal (E[s^2] = 1), a
per-capture scale: real captures differ in how far they stray from the person (pose, light, age),
which a single Gaussian underestimates (its genuine scores are too tightly bunched). Both
covariances are estimated from the real templates (the within part from identities with several
images; the between part from identity means, less the within noise that averaging leaves) and
``spread`` is chosen so synthetic genuine scores spread as real ones do. Synthetic genuine pairs
(two captures of one centre) and impostor pairs (captures of two centres) then land where real ones
do: on LFW with SFace, real genuine cosine 0.706 +- 0.097 against synthetic 0.69 +- 0.10, impostor
0.098 +- 0.087 against 0.098 +- 0.089. :func:`compare_statistics` reports both side by
side; the benchmark prints it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from facetrust.gallery.index import normalised

TEMPLATES_CACHE = "gallery/lfw-templates-{model}.npz"
MODEL_CACHE = "gallery/synthetic-model-{model}.npz"
FIT_VERSION = 2  # bump when the model's form changes, so cached fits are redone


# ------------------------------------------------------------------------------- real templates


@dataclass(frozen=True)
class RealTemplates:
    """Templates of real images, one row per image that yielded a face."""

    files: list[str]  # relative paths, "<Name>/<Name>_0001.jpg"
    labels: list[str]  # identity names
    vectors: np.ndarray  # float32 (n, d), L2-normalised
    model_id: str

    def identities(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            rows.setdefault(label, []).append(i)
        return rows


def _safe(model_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_id)


def current_model_id() -> str:
    """The embedder's model id (a class attribute: no weights are loaded). Caches are keyed by it."""
    from facetrust.biometrics.embed import SFaceEmbedder

    return SFaceEmbedder.model_id


def extract_real_templates(images_dir: Path, files: Sequence[str], workers: int = 2) -> RealTemplates:
    """Run the real pipeline (detect, align, SFace) over ``files`` in worker processes, so the
    caller's process never loads the models. Images without a face are left out."""
    from facetrust.tools.evaluation.lfw import extract_all

    results = extract_all("facetrust", images_dir, list(files), workers, 1)
    kept = [(f, r.vector) for f, r in zip(files, results) if r.vector is not None]
    vectors = normalised(np.stack([v for _, v in kept])) if kept else np.zeros((0, 128), np.float32)
    return RealTemplates([f for f, _ in kept], [f.split("/")[0] for f, _ in kept], vectors, current_model_id())


def load_real_templates(images_dir: Path, data_dir: Path, workers: int = 2) -> RealTemplates:
    """Every image of the LFW folder as a real template, extracted once and cached under the data
    directory (a few MB; never in the repository). The cache is keyed by the model id."""
    from facetrust.tools.evaluation.lfw import list_images

    model_id = current_model_id()
    cache = data_dir / TEMPLATES_CACHE.format(model=_safe(model_id))
    files = list_images(images_dir)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            cached_files = [str(f) for f in z["files"]]
            if set(cached_files) <= set(files) and str(z["model_id"]) == model_id:
                return RealTemplates(
                    cached_files, [f.split("/")[0] for f in cached_files], z["vectors"].astype(np.float32), model_id
                )
    real = extract_real_templates(images_dir, files, workers)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(real.files), vectors=real.vectors, model_id=np.array(real.model_id))
    return real


# ------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class TemplateModel:
    """The fitted two-level Gaussian model (see the module docstring)."""

    mean: np.ndarray  # (d,)
    between: np.ndarray  # (d, d) factor: centre = mean + between @ z
    within: np.ndarray  # (d, d) factor: capture = centre + s * within @ e
    spread: float  # log-scale spread of s, the per-capture distance from the centre
    model_id: str
    provenance: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.mean.size)

    def centres(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` new identity centres (unnormalised)."""
        z = rng.standard_normal((n, self.dim), dtype=np.float32)
        return self.mean.astype(np.float32) + z @ self.between.T.astype(np.float32)

    def captures(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One normalised capture (template) of each centre."""
        e = rng.standard_normal(centres.shape, dtype=np.float32)
        g = rng.standard_normal((len(centres), 1), dtype=np.float32)
        scale = np.exp(self.spread * g - self.spread**2)
        return normalised(centres + scale * (e @ self.within.T.astype(np.float32)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            mean=self.mean,
            between=self.between,
            within=self.within,
            spread=self.spread,
            model_id=np.array(self.model_id),
            provenance=np.array(json.dumps(self.provenance)),
        )

    @classmethod
    def load(cls, path: Path) -> TemplateModel:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                z["mean"],
                z["between"],
                z["within"],
                float(z["spread"]),
                str(z["model_id"]),
                json.loads(str(z["provenance"])),
            )


def _psd_factor(cov: np.ndarray) -> np.ndarray:
    """A symmetric square root of a covariance, negative eigenvalues (estimation noise) clipped."""
    values, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return (vecs * np.sqrt(np.clip(values, 0, None))) @ vecs.T


def fit(real: RealTemplates, shrinkage: float = 0.0) -> TemplateModel:
    """Fit the model on real templates. ``shrinkage`` (0-1) pulls each covariance towards its
    diagonal, for fits on a few hundred images (tests); the benchmark fits on all with none."""
    x = real.vectors.astype(np.float64)
    groups = [rows for rows in real.identities().values()]
    means = np.stack([x[rows].mean(axis=0) for rows in groups])
    counts = np.array([len(rows) for rows in groups], dtype=np.float64)

    multi = [rows for rows in groups if len(rows) >= 2]
    if not multi:
        raise ValueError("fitting needs identities with at least two images")
    residuals = np.concatenate([x[rows] - x[rows].mean(axis=0) for rows in multi])
    dof = sum(len(rows) - 1 for rows in multi)
    within = residuals.T @ residuals / dof

    mean = means.mean(axis=0)
    centred = means - mean
    # An identity mean over n images carries within/n of capture noise: take it out.
    between = centred.T @ centred / (len(means) - 1) - within * float(np.mean(1.0 / counts))

    def shrink(c: np.ndarray) -> np.ndarray:
        return (1 - shrinkage) * c + shrinkage * np.diag(np.diag(c))

    provenance = {
        "images": len(real.files),
        "identities": len(groups),
        "identities_with_several_images": len(multi),
        "shrinkage": shrinkage,
    }
    base = TemplateModel(
        mean.astype(np.float32),
        _psd_factor(shrink(between)).astype(np.float32),
        _psd_factor(shrink(within)).astype(np.float32),
        0.0,
        real.model_id,
        provenance,
    )
    target = real_statistics(real)["genuine"]["std"]
    rng = np.random.default_rng(0)  # one set of draws for every candidate: a smooth comparison
    centres = base.centres(20_000, rng)
    noise = [rng.standard_normal(centres.shape, dtype=np.float32) @ base.within.T for _ in range(2)]
    scales = [rng.standard_normal((len(centres), 1), dtype=np.float32) for _ in range(2)]

    def genuine_std(spread: float) -> float:
        a, b = (normalised(centres + np.exp(spread * g - spread**2) * e) for g, e in zip(scales, noise))
        return float(np.std(np.einsum("ij,ij->i", a, b)))

    best = min(SPREADS, key=lambda sp: abs(genuine_std(sp) - target))
    return replace(base, spread=best, provenance={**provenance, "spread": best, "version": FIT_VERSION})


SPREADS = tuple(round(0.05 * i, 2) for i in range(21))  # candidate spreads, 0 to 1


def load_or_fit(images_dir: Path, data_dir: Path, workers: int = 2) -> tuple[TemplateModel, RealTemplates]:
    """The model fitted on every image of the LFW folder, cached beside the templates."""
    real = load_real_templates(images_dir, data_dir, workers)
    path = data_dir / MODEL_CACHE.format(model=_safe(real.model_id))
    if path.is_file():
        try:
            model = TemplateModel.load(path)
        except (KeyError, ValueError):  # a cache of an older form: fit again
            model = None
        if (
            model is not None
            and model.provenance.get("images") == len(real.files)
            and model.model_id == real.model_id
            and model.provenance.get("version") == FIT_VERSION
        ):
            return model, real
    model = fit(real)
    model.save(path)
    return model, real


# --------------------------------------------------------------------------------- generation


def gallery(model: TemplateModel, n: int, seed: int, chunk: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """``n`` enrolled templates of ``n`` distinct synthetic people, plus their centres (float32,
    to draw genuine probes from later). Drawn in chunks to bound the temporary memory."""
    rng = np.random.default_rng(seed)
    vectors = np.empty((n, model.dim), dtype=np.float32)
    centres = np.empty((n, model.dim), dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        centres[start:stop] = model.centres(stop - start, rng)
        vectors[start:stop] = model.captures(centres[start:stop], rng)
    return vectors, centres


# -------------------------------------------------------------------------------- statistics


def _pair_stats(scores: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(np.mean(scores)),
        "std": float(np.std(scores)),
        "p01": float(np.percentile(scores, 1)),
        "p99": float(np.percentile(scores, 99)),
        "pairs": int(scores.size),
    }


def real_statistics(real: RealTemplates, max_impostors: int = 200_000, seed: int = 0) -> dict[str, dict]:
    """Genuine (every same-identity pair) and impostor (random cross-identity pairs) cosines."""
    genuine = []
    for rows in real.identities().values():
        if len(rows) >= 2:
            v = real.vectors[rows]
            s = v @ v.T
            genuine.append(s[np.triu_indices(len(rows), 1)])
    rng = np.random.default_rng(seed)
    labels = np.array(real.labels)
    a = rng.integers(0, len(labels), max_impostors)
    b = rng.integers(0, len(labels), max_impostors)
    keep = labels[a] != labels[b]
    impostor = np.einsum("ij,ij->i", real.vectors[a[keep]], real.vectors[b[keep]])
    return {"genuine": _pair_stats(np.concatenate(genuine)), "impostor": _pair_stats(impostor)}


def synthetic_statistics(model: TemplateModel, pairs: int = 100_000, seed: int = 0) -> dict[str, dict]:
    """The same figures for synthetic pairs: two captures of one centre, captures of two centres."""
    rng = np.random.default_rng(seed)
    centres = model.centres(pairs, rng)
    a, b = model.captures(centres, rng), model.captures(centres, rng)
    other = model.captures(model.centres(pairs, rng), rng)
    return {
        "genuine": _pair_stats(np.einsum("ij,ij->i", a, b)),
        "impostor": _pair_stats(np.einsum("ij,ij->i", a, other)),
    }


def compare_statistics(model: TemplateModel, real: RealTemplates) -> dict[str, dict]:
    return {"real": real_statistics(real), "synthetic": synthetic_statistics(model)}
