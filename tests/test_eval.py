"""The LFW evaluation command end to end on a small pairs file (the full run is a benchmark)."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from facetrust.cli import main
from facetrust.tools.evaluation import metrics


def test_fold_accuracy_picks_threshold_on_other_folds():
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.6, 0.3, 0.65])
    same = np.array([1, 1, 0, 0, 1, 1, 0, 0], bool)
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    accs = metrics.fold_accuracy(scores, same, folds)
    # fold 1's threshold comes from fold 0 (between 0.2 and 0.8): 0.65 is then a false match
    assert accs[0] == 1.0 and accs[1] == 0.75


def test_fnmr_at_fmr():
    impostor = np.linspace(0, 1, 10_001)
    genuine = np.array([0.95, 0.9995, 1.5, 2.0])
    fnmr, t = metrics.fnmr_at_fmr(genuine, impostor, 1e-3)
    assert t == impostor[-11] and fnmr == 0.25


def test_eval_lfw_command_on_a_small_pairs_file(tmp_path, shared_data):
    images_src = shared_data / "lfw-dev" / "images"
    names = ["Bono", "Colin_Powell", "Jiang_Zemin", "Hu_Jintao"]
    images = tmp_path / "images"
    for n in names:
        (images / n).mkdir(parents=True)
        for i in (1, 2):
            (images / n / f"{n}_{i:04d}.jpg").write_bytes((images_src / n / f"{n}_{i:04d}.jpg").read_bytes())
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "2 2\n"
        "Bono 1 2\nColin_Powell 1 2\nBono 1 Colin_Powell 2\nJiang_Zemin 1 Hu_Jintao 1\n"
        "Jiang_Zemin 1 2\nHu_Jintao 1 2\nBono 2 Jiang_Zemin 2\nColin_Powell 1 Hu_Jintao 2\n"
    )
    subset = tmp_path / "subset.txt"
    subset.write_text("Jiang_Zemin\nHu_Jintao\n")
    out, plot = tmp_path / "r.json", tmp_path / "det.png"
    r = CliRunner().invoke(
        main,
        [
            "eval",
            "lfw",
            "--pairs",
            str(pairs),
            "--images",
            str(images),
            "--subset",
            str(subset),
            "--json",
            str(out),
            "--plot",
            str(plot),
            "--workers",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    report = json.loads(out.read_text())
    assert report["accuracy"]["mean"] == 1.0
    assert set(report["fnmr_at_fmr"]) == {"0.001", "0.0001"}
    assert report["failure_to_enrol"]["count"] == 0
    assert report["ms_per_image"]["median"] > 0
    assert report["pairs"] == {"genuine": 4, "impostor": 24}
    assert report["subset"]["impostor_pairs"] == 4
    assert plot.stat().st_size > 10_000
    assert "accuracy" in r.output
