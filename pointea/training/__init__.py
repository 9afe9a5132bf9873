"""Training: LightningModules, metrics, test-time voting, checkpoints and the ``pointea`` CLI.

Lightning-dependent; ``import pointea`` loads it only when one of its names is used.
"""

from pointea.models.category_parts import CategoryParts
from pointea.training.checkpoint_path import resolve_checkpoint_path
from pointea.training.classification import PointCloudClassifier
from pointea.training.cli import PointeaCLI, cli_main
from pointea.training.interrupt_checkpoint import InterruptCheckpoint
from pointea.training.module import PointCloudModule
from pointea.training.normal_error import NormalError
from pointea.training.normals import NormalEstimation
from pointea.training.part_iou import PartIoU
from pointea.training.predictions import PredictionWriter
from pointea.training.segmentation import PartSegmentation
from pointea.models.voting import ScaleVoting

__all__ = [
    "CategoryParts",
    "InterruptCheckpoint",
    "NormalError",
    "NormalEstimation",
    "PartIoU",
    "PartSegmentation",
    "PointCloudClassifier",
    "PointCloudModule",
    "PointeaCLI",
    "PredictionWriter",
    "ScaleVoting",
    "cli_main",
    "resolve_checkpoint_path",
]
