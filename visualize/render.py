"""Headless rendering of a :class:`~visualize.cloud.Cloud` to a numpy image with open3d's
``OffscreenRenderer``.

No display is needed. On a machine without a GPU, open3d 0.20 finds Mesa's software Vulkan
driver (llvmpipe, Debian's ``libvulkan1`` and ``mesa-vulkan-drivers``) by itself and renders
through Filament's Vulkan backend; no environment variable is needed. It prints a harmless
"X11 GLFW init failed ... Falling back to headless mode" warning.

One renderer serves every tile of a picture: creating one costs far more than a render, and its
scene must be emptied before it is destroyed (open3d aborts otherwise), which :class:`TileRenderer`
does on exit.

Shape legend: H, W image height and width in pixels.
"""

from __future__ import annotations

from types import TracebackType

import numpy as np

from visualize.camera import Camera
from visualize.cloud import MARKER_COLOR, Cloud

__all__ = ["TileRenderer"]

_BACKGROUND = (1.0, 1.0, 1.0, 1.0)


class TileRenderer:
    """Render clouds to (H, W, 3) uint8 images of one fixed size, on a white background.

    Use as a context manager::

        with TileRenderer(320, 320) as renderer:
            image = renderer.render(cloud, camera)

    Args:
        width, height: image size in pixels.
        point_size: rendered point size in pixels.
        marker_size: point size of the marked points.
    """

    def __init__(self, width: int, height: int, point_size: float = 5.0, marker_size: float = 14.0) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"TileRenderer: size must be positive, got {width} x {height}")
        self.width, self.height = width, height
        self.point_size = point_size
        self.marker_size = marker_size
        self._renderer = None

    def __enter__(self) -> TileRenderer:
        # open3d is imported here, so that the pure modules (and their tests) never load it.
        from open3d.visualization import rendering

        self._renderer = rendering.OffscreenRenderer(self.width, self.height)
        scene = self._renderer.scene
        scene.set_background(list(_BACKGROUND))
        # Without post-processing (tone mapping, gamma) colours come out as given and the
        # background exactly white.
        scene.view.set_post_processing(False)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._renderer is not None:
            self._renderer.scene.clear_geometry()
            self._renderer = None

    def render(self, cloud: Cloud, camera: Camera, point_size: float | None = None) -> np.ndarray:
        """Render one cloud seen by ``camera``; returns an (H, W, 3) uint8 image."""
        if self._renderer is None:
            raise RuntimeError("TileRenderer.render called outside its `with` block")
        import open3d as o3d
        from open3d.visualization import rendering

        scene = self._renderer.scene
        scene.clear_geometry()
        material = rendering.MaterialRecord()
        material.shader = "defaultUnlit"
        material.point_size = float(point_size or self.point_size)
        geometry = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(cloud.points, dtype=np.float64)))
        geometry.colors = o3d.utility.Vector3dVector(np.asarray(cloud.colors, dtype=np.float64))
        scene.add_geometry("cloud", geometry, material)
        if cloud.marked.size:
            marker = rendering.MaterialRecord()
            marker.shader = "defaultUnlit"
            marker.point_size = float(self.marker_size)
            marked = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points[cloud.marked].astype(np.float64)))
            marked.paint_uniform_color(list(MARKER_COLOR))
            scene.add_geometry("marked", marked, marker)
        self._renderer.setup_camera(camera.fov_deg, list(camera.center), list(camera.eye), list(camera.up))
        image = np.asarray(self._renderer.render_to_image())  # (H, W, 3) uint8
        scene.clear_geometry()
        return image.copy()
