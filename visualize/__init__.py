"""pointea's viewers: per-head attention on points, part segmentation, the datasets, training
curves; interactive (open3d window) or headless (``--save out.png`` through open3d's
``OffscreenRenderer``).

Run from the repository root::

    python -m visualize.attention --config CONFIG [--ckpt CKPT] --split test --index I [--save out.png]
    python -m visualize.parts --config CONFIG [--ckpt CKPT] --index I [--save out.png]
    python -m visualize.dataset --config CONFIG --index I [--count K] [--save out.png]
    python -m visualize.curves RUN_DIR --save curves.png

The pure parts (colours, propagation, layout, the viewers' state machines) import neither open3d
nor a model; open3d is imported only where a picture is rendered or a window opened. ``pointea``
never imports this package.
"""

__all__: list[str] = []
