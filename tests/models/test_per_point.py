"""The per-point family (pointea.models.per_point): part and semantic segmentation, normal estimation."""

import pytest
import torch

from pointea import PCTNormalEstimator, PCTPartSegmenter, PCTSemanticSegmenter, PointEncoder
from pointea.errors import CheckpointError
from pointea.models.checkpoint import CHECKPOINT_KEY, RECORD_FORMAT
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")


def _trained_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BatchNorm running statistics, so eval mode is not the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.uniform_(-0.2, 0.2, generator=generator)
    return model.eval()


def _semantic(in_channels=0, **options):
    return PCTSemanticSegmenter(5, encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=in_channels), **options)


def _normals(in_channels=0, **options):
    return PCTNormalEstimator(encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=in_channels), **options)


def _normals_local(in_channels=0, **options):
    """The normal estimator whose points are embedded with their 6 nearest (local_neighbours)."""
    encoder = PointEncoder(**TINY_SEGMENTATION, in_channels=in_channels, local_neighbours=6)
    return PCTNormalEstimator(encoder=encoder, **options)


def _parts(in_channels=0, **options):
    return PCTPartSegmenter(6, 3, encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=in_channels), **options)


def _run(model, points, features=None, **options):
    """Every network called the same way; the part segmenter gets fixed categories."""
    if isinstance(model, PCTPartSegmenter):
        category = torch.arange(points.shape[0]) % model.num_categories
        return model(points, category, features=features, **options)
    return model(points, features, **options)


NETWORKS = {"parts": _parts, "semantic": _semantic, "normals": _normals, "normals_local": _normals_local}


@pytest.mark.parametrize("attention", ["external", "offset"])
def test_default_networks_keep_full_resolution(attention):
    points = torch.rand(2, 300, 3)
    logits = PCTSemanticSegmenter(13, attention=attention).eval()(points)
    normals = PCTNormalEstimator(attention=attention).eval()(points)
    assert logits.shape == (2, 300, 13)
    assert normals.shape == (2, 300, 3)


def test_normals_are_unit_vectors_in_train_and_eval_mode():
    model = _normals()
    points = torch.rand(3, 80, 3) * 2 - 1
    for mode in (True, False):
        norms = model.train(mode)(points).norm(dim=-1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


@pytest.mark.parametrize("name", NETWORKS)
def test_features_channels_change_the_output(name):
    model = _trained_statistics(NETWORKS[name](in_channels=4))
    points, features = torch.rand(2, 60, 3), torch.rand(2, 60, 4)
    with torch.no_grad():
        a = _run(model, points, features)
        b = _run(model, points, features.flip(1))  # same points, features moved to other points
    assert (a - b).abs().amax() > 1e-3


def test_missing_or_wrong_features_are_one_line_errors():
    model = _semantic(in_channels=4)
    with pytest.raises(ValueError, match=r"in_channels=4: pass features of shape \(B, N, 4\)"):
        model(torch.rand(2, 30, 3))
    with pytest.raises(ValueError, match=r"features as a float tensor of shape \(2, 30, 4\), got \(2, 30, 3\)"):
        model(torch.rand(2, 30, 3), torch.rand(2, 30, 3))
    with pytest.raises(ValueError, match="in_channels=0"):
        _semantic()(torch.rand(2, 30, 3), torch.rand(2, 30, 4))
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(torch.rand(2, 30, 3), torch.full((2, 30, 4), float("nan")))
    with pytest.raises(ValueError, match="conflicts with the given encoder's in_channels=4"):
        PCTSemanticSegmenter(5, in_channels=2, encoder=PointEncoder(**TINY_SEGMENTATION, in_channels=4))


@pytest.mark.parametrize("name", NETWORKS)
def test_gradients_reach_every_parameter(name):
    model = NETWORKS[name](in_channels=2)
    out = _run(model, torch.rand(2, 40, 3), torch.rand(2, 40, 2))
    (out * torch.randn_like(out)).sum().backward()
    for parameter_name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize("name", NETWORKS)
def test_permutation_equivariant(name):
    model = _trained_statistics(NETWORKS[name](in_channels=2))
    points, features, perm = torch.rand(2, 50, 3), torch.rand(2, 50, 2), torch.randperm(50)
    with torch.no_grad():
        assert torch.allclose(_run(model, points, features)[:, perm], _run(model, points[:, perm], features[:, perm]), atol=1e-5)


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_equals_unchunked(name, chunk_size):
    model = _trained_statistics(NETWORKS[name](in_channels=3))
    points, features = torch.rand(2, 100, 3), torch.rand(2, 100, 3)
    with torch.no_grad():
        expected = _run(model, points, features)
        got = _run(model, points, features, chunk_size=chunk_size)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-4


@pytest.mark.parametrize("name", NETWORKS)
def test_checkpointed_activations_change_nothing(name):
    torch.manual_seed(0)
    plain = NETWORKS[name](in_channels=2).eval()
    torch.manual_seed(0)
    checkpointed = NETWORKS[name](in_channels=2, activation_checkpointing=True).eval()
    points, features = torch.rand(2, 40, 3), torch.rand(2, 40, 2)
    assert torch.allclose(_run(plain, points, features), _run(checkpointed, points, features), atol=1e-6)


def _save(tmp_path, network, task, state=None, record=None):
    state = network.state_dict() if state is None else state
    checkpoint = {
        "state_dict": {f"network.{k}": v for k, v in state.items()},
        CHECKPOINT_KEY: {
            "format": RECORD_FORMAT,
            "task": task,
            "network": dict(record or network.constructor_record(), prefix="network."),
            "encoder": dict(network.encoder.constructor_record(), prefix="network.encoder."),
        },
    }
    path = tmp_path / f"{task}.ckpt"
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize(
    "cls,task,build",
    [
        (PCTSemanticSegmenter, "semantic_segmentation", lambda: PCTSemanticSegmenter(7, in_channels=3, attention="external")),
        (PCTNormalEstimator, "normal_estimation", lambda: PCTNormalEstimator(in_channels=3)),
        (PCTNormalEstimator, "normal_estimation", lambda: _normals_local(in_channels=3)),
    ],
)
def test_checkpoint_round_trip(tmp_path, cls, task, build):
    network = _trained_statistics(build())
    path = _save(tmp_path, network, task)
    loaded = cls.from_checkpoint(path)
    assert not loaded.training and loaded.in_channels == 3
    points, features = torch.rand(1, 64, 3), torch.rand(1, 64, 3)
    with torch.no_grad():
        assert torch.equal(loaded(points, features), network(points, features))
    assert PointEncoder.from_checkpoint(path).in_channels == 3
    assert loaded.encoder.local_neighbours == network.encoder.local_neighbours
    with pytest.raises(CheckpointError, match=f"not of a PCTPartSegmenter"):
        PCTPartSegmenter.from_checkpoint(path)


@pytest.mark.parametrize(
    "value, message",
    [
        ("16", r"network\.encoder\.local_neighbours is '16' \(str\), expected int"),
        (True, r"network\.encoder\.local_neighbours is True \(bool\), expected int"),
        (-2, "local_neighbours must be an integer >= 0, got -2"),
        (0, r"resized weights \(e\.g\. encoder\.embedding\.0\.linear\.weight\)"),  # PCT's embedding, k > 0 weights
    ],
)
def test_an_edited_local_neighbours_record_is_refused(tmp_path, value, message):
    network = _normals_local()
    record = network.constructor_record()
    encoder_args = record["args"]["encoder"]["__network__"]["args"]
    assert encoder_args["local_neighbours"] == 6  # saved in the record
    encoder_args["local_neighbours"] = value
    with pytest.raises(CheckpointError, match=message):
        PCTNormalEstimator.from_checkpoint(_save(tmp_path, network, "normal_estimation", record=record))


def test_a_record_without_local_neighbours_is_pct(tmp_path):
    """Checkpoints written before local_neighbours existed rebuild PCT's per-point embedding."""
    network = _trained_statistics(_normals())
    record = network.constructor_record()
    del record["args"]["encoder"]["__network__"]["args"]["local_neighbours"]
    loaded = PCTNormalEstimator.from_checkpoint(_save(tmp_path, network, "normal_estimation", record=record))
    assert loaded.encoder.local_neighbours == 0
    points = torch.rand(1, 40, 3)
    with torch.no_grad():
        assert torch.equal(loaded(points), network(points))


def test_checkpoint_of_the_old_segmenter_module_still_loads(tmp_path):
    """A record naming pointea.models.segmenter.PCTPartSegmenter, with the head's weights under
    their old names (hidden., classify., context_projection.), rebuilds the same network."""
    network = _trained_statistics(PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION)))
    renamed = {"head.hidden.": "hidden.", "head.output.": "classify.", "head.context_projection.": "context_projection."}
    old_state = {}
    for key, value in network.state_dict().items():
        for new, old in renamed.items():
            if key.startswith(new):
                key = old + key[len(new):]
        old_state[key] = value
    assert any(k.startswith("classify.") for k in old_state)
    record = network.constructor_record()
    assert record["class"] == "pointea.models.per_point.PCTPartSegmenter"
    old_args = {k: v for k, v in record["args"].items() if k != "in_channels"}  # the old signature
    path = _save(tmp_path, network, "part_segmentation", old_state,
                 {"class": "pointea.models.segmenter.PCTPartSegmenter", "args": old_args})  # fmt: skip
    loaded = PCTPartSegmenter.from_checkpoint(path)
    points, category = torch.rand(2, 50, 3), torch.tensor([0, 2])
    with torch.no_grad():
        assert torch.equal(loaded(points, category), network(points, category))
    plain = PCTPartSegmenter(num_parts=6, num_categories=3, encoder=PointEncoder(**TINY_SEGMENTATION))
    plain.load_state_dict(old_state)  # a plain load_state_dict of the old keys works too
    from pointea.models.segmenter import PCTPartSegmenter as OldPath

    assert OldPath is PCTPartSegmenter


@pytest.mark.parametrize("name", ["semantic", "normals", "normals_local"])
def test_torch_export_with_dynamic_points_matches_eager(name):
    """Exportable as the part segmenter is (pointea.export): one graph for any number of points."""
    model = _trained_statistics(NETWORKS[name](in_channels=2))
    points = torch.export.Dim("points", min=max(2, model.encoder.min_points))  # as pointea.export does
    shapes = {"points": {1: points}, "features": {1: points}}
    program = torch.export.export(model, (torch.rand(2, 40, 3), torch.rand(2, 40, 2)), dynamic_shapes=shapes)
    other, features = torch.rand(2, 73, 3), torch.rand(2, 73, 2)
    with torch.no_grad():
        assert torch.allclose(program.module()(other, features), model(other, features), atol=1e-5)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "exported"])
def test_every_export_format_of_a_local_neighbour_estimator_matches_eager(tmp_path, fmt):
    """pointea-export's formats, each run by its own runtime at another batch size and number of
    points than traced with, give the eager normals of a network with local_neighbours."""
    from pointea.export import export_model, load_runtime
    from pointea.predict import load_trained_model

    network = _trained_statistics(_normals_local())
    out = tmp_path / f"normals.{ {'onnx': 'onnx', 'torchscript': 'pt', 'exported': 'pt2'}[fmt]}"
    export_model(load_trained_model(_save(tmp_path, network, "normal_estimation")), fmt, out)
    points = torch.rand(3, 77, 3) * 2 - 1
    with torch.no_grad():
        expected = network(points)
    got = torch.from_numpy(load_runtime(fmt, out)(points.numpy()))
    assert got.shape == (3, 77, 3)
    assert (got - expected).abs().max() <= 1e-4


def test_the_local_normals_config_is_the_normals_config_with_local_neighbours():
    """configs/modelnet40_normals_local.yaml stays configs/modelnet40_normals.yaml (PCT's network and
    recipe) plus local_neighbours 16: nothing else may drift between them."""
    import yaml

    from tests.training.conftest import REPO

    def read(name):
        return yaml.safe_load((REPO / "configs" / name).read_text())

    plain, local = read("modelnet40_normals.yaml"), read("modelnet40_normals_local.yaml")
    encoder = local["model"]["init_args"]["network"]["init_args"]["encoder"]["init_args"]
    assert encoder.pop("local_neighbours") == 16
    assert local["trainer"].pop("default_root_dir") == "runs/modelnet40_normals_local"
    del plain["trainer"]["default_root_dir"]
    assert local == plain
    assert "local_neighbours" not in str(read("modelnet40_normals_pct.yaml"))  # PCT's network stays PCT's
