"""The fixed per-sample camera frames the whole cloud."""

from __future__ import annotations

import math

import numpy as np

from visualize.cloud import fixed_camera


def _project(points: np.ndarray, camera) -> np.ndarray:  # noqa: ANN001
    """Normalised image coordinates in [-1, 1] when inside the field of view."""
    eye, center, up = (np.asarray(v) for v in (camera.eye, camera.center, camera.up))
    forward = (center - eye) / np.linalg.norm(center - eye)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    rel = points - eye
    depth = rel @ forward
    tangent = math.tan(math.radians(camera.fov_deg) / 2)
    return np.stack([rel @ right, rel @ true_up], axis=1) / (depth[:, None] * tangent)


def test_every_point_is_in_view_and_the_cloud_fills_it() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 3)) * np.array([3.0, 0.5, 1.0]) + np.array([5.0, -2.0, 1.0])
    camera = fixed_camera(points)
    image = _project(points, camera)
    assert np.abs(image).max() <= 1.0
    assert np.abs(image).max() > 0.9  # tight: the widest extent nearly touches the border
    # The camera looks at the cloud from the default side: the eye is off the cloud's centre.
    assert np.linalg.norm(np.subtract(camera.eye, camera.center)) > np.ptp(points, axis=0).max() / 2


def test_same_cloud_same_camera() -> None:
    points = np.random.default_rng(1).normal(size=(100, 3))
    assert fixed_camera(points) == fixed_camera(points.copy())
