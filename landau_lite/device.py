"""Device choice, seeding and device-dependent default sizes."""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

__all__ = ["pick_device", "seed_everything", "by_device", "has_cuda"]

T = TypeVar("T")


def has_cuda() -> bool:
    """True when a CUDA device is usable."""
    return torch.cuda.is_available()


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else CPU; otherwise ``torch.device(device)`` (validated)."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if device == "auto":
        return torch.device("cuda" if has_cuda() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:K'; got {device!r}") from exc
    if dev.type == "cuda" and not has_cuda():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
    return dev


def check_device(device: str | torch.device, *, allow_auto: bool = True) -> torch.device:
    """A device a run or a network can live on: the CPU, or an available CUDA device (``"cuda"``, ``"cuda:K"``);
    ``"auto"`` as in :func:`pick_device` when ``allow_auto``. Anything else (``"meta"``, an unknown name, a GPU index
    past the last one, CUDA where there is none) raises ``ValueError``, a wrong type ``TypeError``."""
    allowed = ("'auto', " if allow_auto else "") + "'cpu', 'cuda' or 'cuda:K'"
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if device == "auto" and allow_auto:
        return pick_device("auto")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be {allowed}; got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be {allowed}; got {device!r}")
    if dev.type == "cuda":
        if not has_cuda():
            raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'cpu'"
                             + (" or 'auto'" if allow_auto else ""))
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
    return dev


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a CPU ``torch.Generator`` seeded with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def by_device(cpu: T, cuda: T, device: str | torch.device = "auto") -> T:
    """Pick a default size: ``cpu`` on the CPU (laptops, CI), ``cuda`` when the run is on a GPU.

    Example: ``n = by_device(cpu=2000, cuda=50_000)``.
    """
    return cuda if pick_device(device).type == "cuda" else cpu
