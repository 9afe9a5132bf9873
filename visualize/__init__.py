"""pointea's viewers: per-head attention on points, part segmentation, the datasets, training
curves; interactive (open3d window) or headless (``--save out.png`` through open3d's
``OffscreenRenderer``).

Run from the repository root::

    python -m visualize.attention --config CONFIG [--ckpt CKPT] --split test --index I [--save out.png]
    python -m visualize.parts --config CONFIG [--ckpt CKPT] --index I [--save out.png]
    python -m visualize.normals --config CONFIG [--ckpt CKPT] --index I [--save out.png]
    python -m visualize.normals --predictions NAME.normals.npz [--save out.png]
    python -m visualize.dataset --config CONFIG --index I [--count K] [--save out.png]
    python -m visualize.curves RUN_DIR --save curves.png

One module per concept: a command each (:mod:`~visualize.attention`, the whole attention viewer
from the model's output to the picture and the window; :mod:`~visualize.parts`; :mod:`~visualize.normals`;
:mod:`~visualize.dataset`; :mod:`~visualize.curves`), and what they share: the options
(:mod:`~visualize.arguments`), the data and model to show (:mod:`~visualize.loading`), colours
(:mod:`~visualize.colors`), clouds and cameras (:mod:`~visualize.cloud`), headless pictures
(:mod:`~visualize.picture`, rendered by :mod:`~visualize.render`) and the window
(:mod:`~visualize.window`). open3d is imported only where a picture is rendered or a window
opened, so everything else is tested without it. ``pointea`` never imports this package.
"""

__all__: list[str] = []
