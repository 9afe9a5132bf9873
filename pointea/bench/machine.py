"""The machine a benchmark ran on: CPU model, cores, memory, torch version, device name.

Every report names its machine, since figures from different machines are not comparable.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

__all__ = ["cpu_model", "describe_machine", "default_device"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_device() -> str:
    """``"cuda"`` when a CUDA device is usable, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_machine(device: str) -> dict[str, Any]:
    """Facts about this machine and ``device`` as plain JSON-able values.

    Keys: ``cpu_model``, ``cpu_cores`` (logical CPUs the process may use), ``torch_threads``,
    ``memory_bytes``, ``platform``, ``python``, ``torch``, ``torch_cluster`` (version or ``None``),
    ``device`` and ``device_name`` (the GPU's name on CUDA, the CPU model on CPU), and on CUDA
    ``cuda`` (the CUDA version torch was built with) and ``device_memory_bytes``.
    """
    try:
        import torch_cluster

        cluster_version: str | None = getattr(torch_cluster, "__version__", "unknown")
    except ImportError:
        cluster_version = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_cores": cores,
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": _total_memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cluster": cluster_version,
        "device": device,
        "device_name": cpu_model(),
    }
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        properties = torch.cuda.get_device_properties(index)
        facts.update(device_name=properties.name, cuda=torch.version.cuda, device_memory_bytes=properties.total_memory)
    return facts
