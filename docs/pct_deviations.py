"""Measure how PCT's sampling differs from pointea's on real clouds (the numbers in docs/pct.md).

    PYTHONPATH=. OMP_NUM_THREADS=1 python docs/pct_deviations.py ../shared/data/modelnet40_real_subset/ply_data_test0.h5

For every shape (its first 1024 points, as PCT's test loader takes them), in float32:

1. FPS: PCT's CUDA kernel (points with squared norm <= 1e-3 never picked, restated in
   tests/models/pct_reference.py) against pointea's (torch_cluster, no skip), for the first
   stage (1024 -> 512) and the second (the 512 centres -> 256), each on the same input.
2. kNN (k = 32): PCT's matrix-product squared distances + topk against pointea's exact kNN, on the
   same centres: neighbour sets that differ.
3. Logits of a PCT classifier with random weights and BatchNorm statistics (no trained PCT weights
   are available here): PCT's published network against the converted PCTClassifier(attention=
   "offset"), and against PCT with the FPS skip turned off, on the shapes where 1. or 2. found a
   difference and on the first ``--control`` shapes.

Reads the cloud file only; writes nothing.
"""

from __future__ import annotations

import argparse
from unittest import mock

import h5py
import torch

from pointea.convert import from_pct_pytorch
from pointea.layers.sampling import farthest_point_sampling, knn
from tests.models import pct_reference
from tests.models.pct_reference import Pct, furthest_point_sample, randomise, square_distance


def _knn_sets_differ(cloud: torch.Tensor, centres: torch.Tensor, k: int = 32) -> int:
    """Queries whose k-neighbour set differs between PCT's and pointea's kNN."""
    theirs = torch.topk(square_distance(centres[None], cloud[None])[0], k, largest=False).indices
    ours = knn(cloud, centres, k)
    return int((theirs.sort(-1).values != ours.sort(-1).values).any(-1).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a ModelNet40 HDF5 file (data: (S, 2048, 3))")
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0, help="seed of the random PCT weights")
    parser.add_argument("--control", type=int, default=8, help="shapes compared besides the affected ones")
    args = parser.parse_args()
    with h5py.File(args.file, "r") as f:
        clouds = torch.from_numpy(f["data"][:, : args.points].astype("float32"))  # (S, N, 3)
    shapes = clouds.shape[0]

    near_origin = stage1_diff = stage2_diff = 0
    knn1 = knn2 = queries1 = queries2 = 0
    affected = []
    for index, cloud in enumerate(clouds):
        near_origin += int(((cloud * cloud).sum(-1) <= pct_reference.CUDA_FPS_SKIP).any())
        pct1 = furthest_point_sample(cloud[None], 512)[0]
        ours1 = farthest_point_sampling(cloud, None, 512)
        stage1_diff += int(set(pct1.tolist()) != set(ours1.tolist()))
        centres = cloud[ours1]
        pct2 = furthest_point_sample(centres[None], 256)[0]
        ours2 = farthest_point_sampling(centres, None, 256)
        stage2_diff += int(set(pct2.tolist()) != set(ours2.tolist()))
        differ = (set(pct1.tolist()) != set(ours1.tolist()), set(pct2.tolist()) != set(ours2.tolist()),
                  _knn_sets_differ(cloud, centres), _knn_sets_differ(centres, centres[ours2]))  # fmt: skip
        knn1, knn2 = knn1 + differ[2], knn2 + differ[3]
        if any(differ):
            affected.append(index)
        queries1, queries2 = queries1 + 512, queries2 + 256
    print(f"{shapes} shapes, {args.points} points each, float32")
    print(f"shapes with a point of squared norm <= 1e-3: {near_origin}")
    print(f"FPS sets differ (PCT's CUDA skip vs pointea): stage 1 {stage1_diff}/{shapes}, stage 2 {stage2_diff}/{shapes}")
    print(f"kNN sets differ (matrix-product vs exact): stage 1 {knn1}/{queries1} queries, stage 2 {knn2}/{queries2}")

    control = [i for i in range(args.control) if i not in affected]
    print(f"shapes with any FPS or kNN difference: {affected}; control shapes: {control}")

    reference = randomise(Pct(output_channels=40), seed=args.seed).eval()
    network = from_pct_pytorch(reference.state_dict())
    no_skip = lambda xyz, n, skip=-1.0: furthest_point_sample(xyz, n, skip)  # noqa: E731
    for name, indices in (("affected", affected), ("control", control)):
        batch = clouds[indices]
        with torch.no_grad():
            ours = network(batch)
            pct = reference(batch.transpose(1, 2))
            with mock.patch.object(pct_reference, "furthest_point_sample", no_skip):
                pct_no_skip = reference(batch.transpose(1, 2))
        for against, theirs in (("PCT", pct), ("PCT without the FPS skip", pct_no_skip)):
            difference = (ours - theirs).abs().max(dim=-1).values  # (S,)
            print(
                f"{name} shapes, logits pointea vs {against} (random weights, |logit| <= {pct.abs().max():.2f}): "
                f"max |diff| per shape {[f'{d:.1e}' for d in difference.tolist()]}, "
                f"argmax differs: {int((ours.argmax(-1) != theirs.argmax(-1)).sum())}/{len(indices)}"
            )


if __name__ == "__main__":
    main()
