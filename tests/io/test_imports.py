"""Import costs and order: open3d and laspy load only when a file needs them; pointea.io and
pointea.data import in either order (the data readers use pointea.io)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_order_and_lazy_heavy_readers() -> None:
    """pointea.io imported first (the data package, imported in-process by the other tests, comes
    first everywhere else), and neither import pulls in open3d or laspy."""
    code = (
        "import sys, pointea; light = 'pointea.io' not in sys.modules and 'open3d' not in sys.modules; "
        "import pointea.io, pointea.data; "
        "print(light, 'open3d' in sys.modules, 'laspy' in sys.modules, pointea.io.read_points.__module__)"
    )
    assert _run(code) == "True False False pointea.io.read"
