"""bf16 mixed precision through Lightning's trainer, and the ``compile`` option of the modules."""

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

import pointea.layers.external_attention as external_attention
from pointea import PCTClassifier, PCTPartSegmenter, PointEncoder
from pointea.training import PartSegmentation
from tests.conftest import TINY_ENCODER

TINY_SEGMENTATION = dict(TINY_ENCODER, sample_sizes=(), stage_channels=(), pooling="max+mean")
PARTS = {"a": [0, 1], "b": [2, 3, 4]}


def _segmentation(**kwargs) -> PartSegmentation:
    network = PCTPartSegmenter(num_parts=5, num_categories=2, encoder=PointEncoder(**TINY_SEGMENTATION),
                               hidden_channels=(32,), activation_checkpointing=kwargs.pop("checkpointing", False))  # fmt: skip
    return PartSegmentation(network, parts_per_category=PARTS, **kwargs)


def _batches(count: int = 2) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        {"points": torch.rand(4, 64, 3, generator=generator), "category": torch.tensor([0, 1, 0, 1]),
         "parts": torch.tensor([0, 2, 1, 4]).unsqueeze(1).expand(4, 64).clone(), "index": torch.arange(4)}
        for _ in range(count)
    ]  # fmt: skip


def test_bf16_mixed_training_runs_with_the_attention_normalisation_in_float32(monkeypatch):
    seen: list[tuple[torch.dtype, torch.dtype]] = []
    original = external_attention.double_normalize

    def recording(logits, *args, **kwargs):
        attention = original(logits, *args, **kwargs)
        seen.append((logits.dtype, attention.dtype))
        return attention

    monkeypatch.setattr(external_attention, "double_normalize", recording)
    model = _segmentation(checkpointing=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(model, train_dataloaders=DataLoader(_batches(), batch_size=None))
    assert trainer.global_step == 2
    assert (torch.bfloat16, torch.float32) in seen  # bf16 logits in, float32 normalisation out
    assert all(attention == torch.float32 for _, attention in seen)
    after = model.state_dict()
    assert all(torch.isfinite(v.float()).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))


def test_compile_option_compiles_the_network_in_place_keeping_checkpoint_keys():
    eager, compiled = _segmentation(), _segmentation(compile=True)
    eager.configure_model()
    compiled.configure_model()
    assert getattr(eager.network, "_compiled_call_impl", None) is None
    assert compiled.network._compiled_call_impl is not None
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no "_orig_mod." prefixes


def test_sampling_classifier_compiles_around_torch_cluster():
    network = PCTClassifier(num_classes=4, encoder=PointEncoder(**TINY_ENCODER), hidden_channels=(32,)).eval()
    points = torch.rand(2, 128, 3)
    compiled = torch.compile(network, backend="eager")  # dynamo's tracing, without code generation
    with torch.no_grad():
        assert torch.allclose(compiled(points), network(points), atol=1e-6)
