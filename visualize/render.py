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

from visualize.cloud import MARKER_COLOR, Camera, Cloud

__all__ = ["MAX_POINT_SIZE", "MAX_TILE_SIZE", "TileRenderer", "add_cloud", "prepare_scene"]

_BACKGROUND = (1.0, 1.0, 1.0, 1.0)
#: The largest image side rendered. Measured here (open3d 0.20, Mesa llvmpipe through Vulkan):
#: 8192 x 8192 renders (53 s), 16384 x 16384 aborts the process in Filament ("Unable to bind
#: image. error=-2", out of device memory; exit 134, nothing to catch), so sizes are refused at
#: half the largest one seen to work (4096 x 4096 took 15 s).
MAX_TILE_SIZE = 4096
#: The largest point size in pixels.
MAX_POINT_SIZE = 64.0


def prepare_scene(scene: object) -> None:
    """Set up an ``open3d.visualization.rendering.Open3DScene`` (offscreen, or a window's) to
    show colours as given: a white background, and no post-processing (tone mapping, gamma),
    which would otherwise wash the colours out and turn the background grey."""
    scene.set_background(list(_BACKGROUND))  # type: ignore[attr-defined]
    scene.view.set_post_processing(False)  # type: ignore[attr-defined]


def add_cloud(scene: object, cloud: Cloud, point_size: float, marker_size: float, name: str = "cloud") -> None:
    """Add ``cloud`` to an ``Open3DScene`` as unlit points of ``point_size`` pixels, its marked
    points on top in :data:`~visualize.cloud.MARKER_COLOR`, ``marker_size`` pixels
    (geometries ``name`` and ``name + "_marked"``)."""
    import open3d as o3d
    from open3d.visualization import rendering

    def material(size: float) -> rendering.MaterialRecord:
        record = rendering.MaterialRecord()
        record.shader = "defaultUnlit"
        record.point_size = float(size)
        return record

    points = np.asarray(cloud.points, dtype=np.float64)
    geometry = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    geometry.colors = o3d.utility.Vector3dVector(np.asarray(cloud.colors, dtype=np.float64))
    scene.add_geometry(name, geometry, material(point_size))  # type: ignore[attr-defined]
    if cloud.marked.size:
        marked = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[cloud.marked]))
        marked.paint_uniform_color(list(MARKER_COLOR))
        scene.add_geometry(f"{name}_marked", marked, material(marker_size))  # type: ignore[attr-defined]


def _check_point_size(name: str, size: float) -> None:
    if not (isinstance(size, (int, float)) and 0 < size <= MAX_POINT_SIZE):  # NaN fails too
        raise ValueError(f"TileRenderer: {name} must be in (0, {MAX_POINT_SIZE:g}] pixels, got {size!r}")


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
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TILE_SIZE:
                raise ValueError(f"TileRenderer: {name} must be an integer in 1..{MAX_TILE_SIZE} pixels, got {value!r}")
        for name, size in (("point_size", point_size), ("marker_size", marker_size)):
            _check_point_size(name, size)
        self.width, self.height = width, height
        self.point_size = point_size
        self.marker_size = marker_size
        self._renderer = None

    def __enter__(self) -> TileRenderer:
        # open3d is imported here, so that the pure modules (and their tests) never load it.
        from open3d.visualization import rendering

        self._renderer = rendering.OffscreenRenderer(self.width, self.height)
        prepare_scene(self._renderer.scene)
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
        scene = self._renderer.scene
        scene.clear_geometry()
        if point_size is not None:
            _check_point_size("point_size", point_size)
        add_cloud(scene, cloud, point_size or self.point_size, self.marker_size)
        self._renderer.setup_camera(camera.fov_deg, list(camera.center), list(camera.eye), list(camera.up))
        image = np.asarray(self._renderer.render_to_image())  # (H, W, 3) uint8
        scene.clear_geometry()
        return image.copy()
