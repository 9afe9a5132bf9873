"""The data package's shape: light modules stay light, every exported name resolves to the module
that defines it, and each data set module holds its layouts, data module and verifiers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
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


def test_shared_modules_do_not_import_lightning() -> None:
    """Transforms, storage, validation, the dataset and the conversion cache are what predict and
    the readers of other packages use: importing them (and the package) must not load Lightning."""
    statement = (
        "import pointea.data, pointea.data.transforms, pointea.data.storage, "
        "pointea.data.validation, pointea.data.dataset, pointea.data.cache, pointea.data.arguments"
    )
    loaded = _loaded_after(statement)
    assert "torch" in loaded  # the check can see what is imported
    assert not loaded & {"pytorch_lightning", "lightning", "open3d", "laspy"}


def test_data_module_import_brings_lightning() -> None:
    """The counterpart: the data modules are Lightning's, so the check above is not vacuous."""
    assert "pytorch_lightning" in _loaded_after("from pointea.data import ModelNet40DataModule")


def test_every_export_resolves_to_its_defining_module() -> None:
    import pointea.data as data

    for name in data.__all__:
        value = getattr(data, name)
        assert getattr(value, "__name__", name) == name or name.isupper()
    assert data.ModelNet40DataModule.__module__ == "pointea.data.modelnet40"
    assert data.ShapeNetPartDataModule.__module__ == "pointea.data.shapenetpart"
    assert data.ScanObjectNNDataModule.__module__ == "pointea.data.scanobjectnn"
    assert data.ClassFolderDataModule.__module__ == "pointea.data.class_folder"
    assert set(data.__all__) <= set(dir(data))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        data.nonexistent  # noqa: B018


def test_verify_knows_every_layout_of_every_data_set_module() -> None:
    from pointea.data import modelnet40, scanobjectnn, shapenetpart
    from pointea.data.verify import known_layouts

    registered = [*modelnet40.VERIFIERS, *shapenetpart.VERIFIERS, *scanobjectnn.VERIFIERS]
    assert sorted(known_layouts()) == sorted(registered)
    assert known_layouts()[:2] == ["modelnet40_hdf5", "shapenetpart_hdf5"]  # archives first
