"""DET plot (FNMR against FMR, both on log axes) for one or more systems."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on a server
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def det_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str = "DET") -> None:
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for name, (fmr, fnmr) in curves.items():
        ax.plot(fmr, np.maximum(fnmr, 1e-5), label=name, linewidth=1.8)
    for fmr in (1e-3, 1e-4, 1e-5):
        ax.axvline(fmr, color="grey", linewidth=0.6, linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("false match rate (FMR)")
    ax.set_ylabel("false non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
