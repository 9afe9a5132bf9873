"""Imports run one way: errors -> layers -> models -> io -> data -> training -> inference (predict,
export, convert) -> tools (bench) and the viewer (visualize), and the light modules stay light.

The first test reads every module's imports (top-level and deferred ones alike) and fails on any
that points up the order; the second imports each light module in a fresh interpreter and checks
which heavy packages it left out of ``sys.modules``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Floor of each top-level part of the code; a module may import its own floor and those below.
FLOORS = {
    "pointea.errors": 0,
    "pointea.layers": 1,
    "pointea.models": 2,
    "pointea.io": 3,
    "pointea.data": 4,
    "pointea.training": 5,
    "pointea.predict": 6,
    "pointea.export": 6,
    "pointea.convert": 6,
    "pointea.bench": 7,
    "visualize": 7,
}


def _floor(module: str) -> int | None:
    for part, floor in FLOORS.items():
        if module == part or module.startswith(part + "."):
            return floor
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``, including those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)]
            # `from pointea import models` names a subpackage too
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_no_import_runs_up_the_order() -> None:
    sources = sorted([*(ROOT / "pointea").rglob("*.py"), *(ROOT / "visualize").rglob("*.py")])
    assert len(sources) > 50  # the walk found the package
    upward = []
    for path in sources:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        floor = _floor(module)
        if floor is None:  # pointea/__init__.py: lazy re-exports of every floor
            continue
        for line, imported in _imports(path):
            imported_floor = _floor(imported)
            if imported_floor is not None and imported_floor > floor:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not upward, "imports running up the order:\n" + "\n".join(upward)


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


HEAVY = {"torch", "torch_geometric", "pytorch_lightning", "lightning", "open3d", "laspy", "h5py", "matplotlib"}


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import pointea", set()),
        ("import pointea.errors", set()),
        # the readers: NumPy only; open3d, laspy and h5py load when a file needs them
        ("import pointea.io", set()),
        # the data modules read files through pointea.io and load open3d or laspy only for a file
        ("import pointea.io, pointea.data", HEAVY - {"open3d", "laspy"}),
        # what predict and the readers of other packages use of pointea.data: no Lightning
        (
            "import pointea.data, pointea.data.transforms, pointea.data.storage, pointea.data.validation, "
            "pointea.data.dataset, pointea.data.cache, pointea.data.arguments",
            HEAVY - {"pytorch_lightning", "lightning", "open3d", "laspy"},
        ),
        # the networks: torch only; a PyG Data/Batch input is converted where it is met
        ("from pointea import PointEncoder, PCTClassifier, PCTSemanticSegmenter", {"torch"}),
        ("import pointea.layers", {"torch"}),
        # pointea-predict reads files and runs a network: neither Lightning nor PyG
        ("import pointea.predict.cli", {"torch"}),
    ],
)
def test_light_modules_leave_heavy_packages_unloaded(statement: str, allowed: set[str]) -> None:
    loaded = _loaded_after(statement) & HEAVY
    assert loaded <= allowed, f"{statement!r} loaded {sorted(loaded - allowed)}"


def test_the_check_sees_what_a_data_module_loads() -> None:
    """The counterpart: the data modules are Lightning's, so the table above is not vacuous."""
    assert "pytorch_lightning" in _loaded_after("from pointea.data import ModelNet40DataModule")


def test_lazy_names_resolve() -> None:
    import pointea

    for name in pointea.__all__:
        assert getattr(pointea, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        pointea.nonexistent  # noqa: B018
