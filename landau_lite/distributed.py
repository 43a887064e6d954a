r"""Past one device: the pair engine over ``torch.distributed`` (NCCL on GPUs, gloo on CPUs).

Each process (rank :math:`r` of :math:`P`) owns a contiguous shard of about :math:`N/P` particles and their scores.
A pair sum :math:`\sum_{j=1}^N\varphi(q_i,p_j)` for the rank's own rows is computed by passing the source blocks
round a ring: at step :math:`k` a rank reduces its rows against the block it received, sends that block on to
rank :math:`r+1` and receives the next from rank :math:`r-1`; after :math:`P-1` exchanges every rank has met every
block. Memory per rank is :math:`O(N/P + \text{chunk})` (its own block, one block in flight, the engine's row
blocks), never :math:`O(N)`, and the fused kernel of :mod:`landau_lite.pairs` does the work on every block.

The sum over blocks is taken in another order than in one process, so results agree with a single-process run to
round-off, and are bitwise reproducible for a fixed world size.

Launch with ``torchrun`` (one process per GPU; ``LOCAL_RANK`` picks the device), e.g.::

    torchrun --standalone --nproc_per_node=4 -m landau_lite -- run --distributed --problem bkw3_coulomb \
        --score blob --n 1000000 --dt 0.01 --t-end 1 --out run.json

Example (one process: the group is a ring of one, the result is the ordinary pair sum):
    >>> from landau_lite.pairs import PairKernel
    >>> K = PairKernel("doc_ring_sum", lambda r, c, k: (r[0][:, None] * c[0][None, :]).sum(1)[None])
    >>> rows, cols = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]])
    >>> ring_pair_reduce(K, rows, cols, group=None).tolist()
    [[7.0, 14.0]]
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from .pairs import PairKernel, pair_reduce

__all__ = ["is_distributed", "world", "rank", "shard_bounds", "ring_pair_reduce", "all_reduce_sum", "gather_rows",
           "init_from_env"]


def is_distributed(group: Any = None) -> bool:
    """True when ``group`` is a process group of more than one process.

    ``None`` always means "this process alone", even where ``torch.distributed`` is initialised: pass
    ``torch.distributed.group.WORLD`` (or a subgroup) to spread a computation over processes.
    """
    return group is not None and dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world(group: Any = None) -> int:
    """Number of processes of the group (1 for ``None`` or without ``torch.distributed``)."""
    return dist.get_world_size(group) if is_distributed(group) else 1


def rank(group: Any = None) -> int:
    """This process's rank in the group (0 for ``None`` or without ``torch.distributed``)."""
    return dist.get_rank(group) if is_distributed(group) else 0


def shard_bounds(n: int, size: int, r: int) -> tuple[int, int]:
    """Rows ``[a, b)`` of the contiguous shard of rank ``r`` among ``size`` (sizes differ by at most one).

    >>> [shard_bounds(10, 3, r) for r in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    base, extra = divmod(n, size)
    a = r * base + min(r, extra)
    return a, a + base + (1 if r < extra else 0)


def _global(group: Any, r: int) -> int:
    return dist.get_global_rank(group, r)


def all_reduce_sum(t: Tensor, group: Any = None) -> Tensor:
    """Sum of ``t`` over the group (in place on a copy; ``t`` itself without ``torch.distributed``)."""
    if not is_distributed(group):
        return t
    out = t.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
    return out


def _sizes(n_local: int, device: torch.device, group: Any) -> list[int]:
    mine = torch.tensor([n_local], dtype=torch.int64, device=device)
    allsz = [torch.zeros_like(mine) for _ in range(world(group))]
    dist.all_gather(allsz, mine, group=group)
    return [int(s) for s in allsz]


def gather_rows(x: Tensor, group: Any = None) -> Tensor:
    """All ranks' rows (shards of different sizes) concatenated in rank order, on every rank (records, snapshots)."""
    if not is_distributed(group):
        return x
    sizes = _sizes(x.shape[0], x.device, group)
    pad = max(sizes)
    buf = torch.zeros((pad,) + tuple(x.shape[1:]), dtype=x.dtype, device=x.device)
    buf[: x.shape[0]] = x
    parts = [torch.empty_like(buf) for _ in sizes]
    dist.all_gather(parts, buf, group=group)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


def ring_pair_reduce(kernel: PairKernel, rows: Tensor, cols: Tensor, consts: Tensor | None = None, *,
                     group: Any = None, combine: str = "sum", backend: str = "auto",
                     chunk_size: int | None = None) -> Tensor:
    r"""The pair engine's reduction of this rank's ``rows`` against the ``cols`` of every rank (ring of blocks).

    Args:
        kernel, consts, backend, chunk_size: as in :func:`landau_lite.pairs.pair_reduce`.
        rows: ``(k_r, B)`` this rank's query rows. cols: ``(k_c, N_r)`` this rank's sources.
        group: the process group (``None``: this process alone).
        combine: ``"sum"`` or ``"min"`` (how the per-block results of a row are combined).

    Returns:
        ``(k_out, B)``.
    """
    if combine not in ("sum", "min"):
        raise ValueError(f"combine must be 'sum' or 'min', got {combine!r}")
    acc = pair_reduce(kernel, rows, cols, consts, backend=backend, chunk_size=chunk_size)
    if not is_distributed(group):
        return acc
    size, me = world(group), rank(group)
    sizes = _sizes(cols.shape[1], cols.device, group)
    pad = max(sizes)
    send = torch.zeros(cols.shape[0], pad, dtype=cols.dtype, device=cols.device)
    send[:, : cols.shape[1]] = cols
    nxt, prv = _global(group, (me + 1) % size), _global(group, (me - 1) % size)
    for step in range(1, size):
        recv = torch.empty_like(send)
        ops = [dist.P2POp(dist.isend, send, nxt, group), dist.P2POp(dist.irecv, recv, prv, group)]
        for req in dist.batch_isend_irecv(ops):
            req.wait()
        block = recv[:, : sizes[(me - step) % size]].contiguous()
        part = pair_reduce(kernel, rows, block, consts, backend=backend, chunk_size=chunk_size)
        acc = acc + part if combine == "sum" else torch.minimum(acc, part)
        send = recv
    return acc


def init_from_env(backend: str | None = None) -> torch.device:
    """Initialise the default process group from ``torchrun``'s environment; return this rank's device.

    NCCL with ``cuda:LOCAL_RANK`` when CUDA is present, gloo on the CPU otherwise (or ``backend``).
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError("--distributed needs the environment of torchrun (RANK, WORLD_SIZE, MASTER_ADDR, ...): "
                           "launch with `torchrun --nproc_per_node=P -m landau_lite -- run --distributed ...`")
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if use_cuda else "gloo"))
    return device
