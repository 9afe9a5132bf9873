"""The README's plain-onnxruntime snippet runs, without pointea, on a model pointea-export wrote."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from pointea.export import export_model
from pointea.predict import load_trained_model
from tests.test_readme import ALL_SNIPPETS


def test_readme_onnxruntime_snippet_predicts_what_the_network_does(classifier_checkpoint, real_clouds, tmp_path):
    (snippet,) = [s for s in ALL_SNIPPETS if "onnxruntime" in s]
    assert "pointea" not in snippet
    model = load_trained_model(classifier_checkpoint)
    export_model(model, "onnx", tmp_path / "model.onnx")
    cloud = real_clouds[3] * 7.0 + 3.0  # in the user's own units: the snippet must normalise it
    np.savetxt(tmp_path / "chair.txt", np.hstack([cloud, np.zeros_like(cloud)]), delimiter=",", fmt="%.7g")
    # a fresh interpreter that cannot import pointea (run from tmp_path, no PYTHONPATH)
    result = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.modules['pointea'] = None\n" + snippet],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    points = np.loadtxt(tmp_path / "chair.txt", delimiter=",", dtype=np.float32)[:, :3]
    points -= points.mean(axis=0)
    points /= np.linalg.norm(points, axis=1).max()
    points = points[np.random.default_rng(0).permutation(len(points))[: model.num_points]]
    with torch.no_grad():
        expected = model.class_names[int(model.network(torch.from_numpy(points)[None]).argmax())]
    assert result.stdout.strip() == expected
