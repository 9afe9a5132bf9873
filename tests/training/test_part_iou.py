import pytest
import torch

from pointea.data import ShapeNetPart
from pointea.training import CategoryParts, PartIoU

PARTS = {"A": [0, 1], "B": [2, 3, 4]}


def test_hand_computed_example():
    metric = PartIoU(PARTS)
    parts = torch.tensor([[0, 0, 1, 1], [2, 2, 3, 3], [2, 3, 3, 4]])
    predictions = torch.tensor([[0, 1, 1, 1], [2, 2, 3, 3], [2, 2, 2, 2]])
    metric.update(predictions, parts, torch.tensor([0, 1, 1]))
    scores = metric.compute()
    # shape 0 (A): part 0 1/2, part 1 2/3. shape 1 (B): parts 2, 3 exact, part 4 absent in both
    # counts 1. shape 2 (B): part 2 1/4, parts 3 and 4 0.
    shape_iou = torch.tensor([(1 / 2 + 2 / 3) / 2, 1.0, (1 / 4) / 3])
    assert scores["instance_miou"] == pytest.approx(shape_iou.mean().item(), abs=1e-6)
    category_iou = [shape_iou[0].item(), shape_iou[1:].mean().item()]
    assert scores["category_iou"].tolist() == pytest.approx(category_iou, abs=1e-6)
    assert scores["class_miou"] == pytest.approx((shape_iou[0] + shape_iou[1:].mean()).item() / 2, abs=1e-6)


def naive_shape_iou(prediction, truth, parts):
    ious = []
    for part in parts:
        p, t = prediction == part, truth == part
        union = (p | t).sum().item()
        ious.append(1.0 if union == 0 else (p & t).sum().item() / union)
    return sum(ious) / len(ious)


def test_matches_a_per_shape_loop_on_shapenetpart_labels_and_ignores_absent_categories():
    torch.manual_seed(1)
    category_parts = CategoryParts(ShapeNetPart.PARTS_PER_CATEGORY)
    category = torch.tensor([0, 0, 4, 10, 15, 15])  # 4 of the 16 categories present
    logits = torch.randn(6, 50, 50)
    truth = category_parts.restricted_argmax(torch.randn(6, 50, 50), category)
    predictions = category_parts.restricted_argmax(logits, category)
    metric = PartIoU(ShapeNetPart.PARTS_PER_CATEGORY)
    metric.update(predictions, truth, category)
    scores = metric.compute()
    names = list(ShapeNetPart.PARTS_PER_CATEGORY)
    shape_iou = [
        naive_shape_iou(predictions[i], truth[i], ShapeNetPart.PARTS_PER_CATEGORY[names[c]])
        for i, c in enumerate(category.tolist())
    ]
    per_category = {c: [s for s, k in zip(shape_iou, category.tolist()) if k == c] for c in set(category.tolist())}
    assert scores["instance_miou"] == pytest.approx(sum(shape_iou) / len(shape_iou), abs=1e-6)
    class_means = [sum(v) / len(v) for v in per_category.values()]
    assert scores["class_miou"] == pytest.approx(sum(class_means) / len(class_means), abs=1e-6)
    assert torch.isnan(scores["category_iou"]).sum() == 12


def test_restricted_argmax_never_predicts_another_categorys_part():
    category_parts = CategoryParts(PARTS)
    logits = torch.zeros(2, 3, 5)
    logits[..., 4] = 10.0  # part 4 (category B) dominates everywhere
    predictions = category_parts.restricted_argmax(logits, torch.tensor([0, 1]))
    assert predictions[0].tolist() == [0, 0, 0]  # category A: argmax over parts 0 and 1 only
    assert predictions[1].tolist() == [4, 4, 4]


def test_state_sums_across_processes_equal_one_pass_over_everything():
    torch.manual_seed(2)
    category = torch.randint(0, 2, (8,))
    category_parts = CategoryParts(PARTS)
    truth = category_parts.restricted_argmax(torch.randn(8, 16, 5), category)
    predictions = category_parts.restricted_argmax(torch.randn(8, 16, 5), category)
    whole, rank0, rank1 = PartIoU(PARTS), PartIoU(PARTS), PartIoU(PARTS)
    whole.update(predictions, truth, category)
    rank0.update(predictions[:3], truth[:3], category[:3])
    rank1.update(predictions[3:], truth[3:], category[3:])
    rank0.merge_state(rank1)  # what the "sum" reduction does across DDP ranks
    for key, value in whole.compute().items():
        assert torch.allclose(rank0.compute()[key], value), key
    assert all(rank0._reductions[name] is not None for name in ("iou_sum", "shape_count"))


def test_bad_part_maps_and_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="exactly one category"):
        CategoryParts({"A": [0, 1], "B": [1, 2]})
    with pytest.raises(ValueError, match=r"\(B, N\)"):
        PartIoU(PARTS).update(torch.zeros(2, 3).long(), torch.zeros(2, 4).long(), torch.zeros(2).long())
