"""Random generators for augmentation that follow torch's RNG, hence safe with DataLoader workers.

A numpy ``Generator`` stored on a dataset would be copied into every forked worker, and all workers
would draw the same augmentations. Instead, every shape gets a fresh numpy generator seeded by one
draw from torch's global RNG (about 7 us). PyTorch seeds that RNG differently in every worker and
epoch (``base_seed + worker_id``), and ``seed_everything`` / ``torch.manual_seed`` set it in the
main process, so augmentation differs between workers and epochs and is reproducible from the
Lightning seed, exactly like torch-based transforms.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["torch_seeded_generator"]


def torch_seeded_generator() -> np.random.Generator:
    """A numpy generator seeded from one draw of torch's global RNG in this process."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ())))
