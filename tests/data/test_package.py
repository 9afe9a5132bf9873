"""The data package's shape: every exported name resolves to the module that defines it, and each
data set module holds its layouts, data module and verifiers (what the light modules leave
unloaded is checked in tests/test_import_direction.py)."""

from __future__ import annotations

import pytest


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
