r"""The pair engine: every pairwise sum of the package goes through :func:`pair_reduce`.

A pairwise computation reduces a pair function over the :math:`N` source points for each of :math:`M` query rows,

.. math::

    \mathrm{out}_i = \sum_{j=1}^{N} \varphi(q_i, p_j)\qquad(\text{or } \min_j \varphi(q_i, p_j)),\qquad i=1,\dots,M .

The work is :math:`O(MN)`; the memory is :math:`O(N\cdot\text{chunk})`, never :math:`M\times N`:

* ``"chunked"`` (eager torch): the rows are processed in blocks of ``chunk`` rows; each block materialises
  ``chunk × N`` temporaries (about :math:`2^{18}` entries on the CPU, sized for the L2 cache).
* ``"compiled"``: :func:`torch.compile` fuses the pair function into one reduction loop that keeps nothing of size
  ``N`` per row. The rows are still fed in (large) blocks, so even a kernel that Inductor would materialise stays
  within :math:`O(N\cdot\text{chunk})`. The kernel is compiled with dynamic shapes, so one compiled kernel serves
  every :math:`M` and :math:`N` (no recompilation and no slower fallback kernel when :math:`N` changes).
* ``"auto"``: compiled on CUDA, and on the CPU as soon as the work pays for the compilation (a few seconds, once
  per process; torch keeps the generated code in its on-disk cache): at once when one call has at least
  ``COMPILE_NOW_PAIRS`` pairs, otherwise after ``COMPILE_AFTER_PAIRS`` pairs have been evaluated eagerly for the same
  kernel. A single small call in a notebook cell therefore never waits for a compiler, and a simulation loop
  switches to the fused kernel after its first steps. The choice depends only on the sequence of calls, so runs are
  reproducible. ``LANDAU_LITE_COMPILE=0`` turns compilation off everywhere (and ``ATEN_CPU_CAPABILITY=default`` on
  the CPU, see :func:`compile_enabled`); if compiling fails (no C++ compiler on the CPU, no Triton on the GPU) the
  engine warns once per kernel and stays eager.

**Autograd.** When an input requires a gradient, the engine runs the eager path and wraps every row block in
:func:`torch.utils.checkpoint.checkpoint`, so the backward pass recomputes each block instead of storing
``M × N`` intermediates: memory stays :math:`O(N\cdot\text{chunk})`. (The compiled path is used for values only.)

**Layout.** Inputs are *component-major*: ``rows`` is ``(k_r, M)`` and ``cols`` is ``(k_c, N)``, each component a
contiguous vector, which is what lets the fused kernel load 8–16 lanes at once (measured 5× faster than the
``(N, d)`` layout at :math:`N=4096`, float32). A pair function takes ``(rows_block, cols, consts)`` and returns the
per-row results ``(k_out, B)``; ``consts`` is a 1-D tensor of runtime scalars (e.g. an inverse bandwidth), so new
values never trigger a recompilation.

Example:
    >>> import torch
    >>> def sq_dist_sum(rows, cols, consts):            # sum_j |q_i - p_j|^2
    ...     r2 = sum((rows[k][:, None] - cols[k][None, :]) ** 2 for k in range(rows.shape[0]))
    ...     return r2.sum(1, keepdim=True).T
    >>> K = PairKernel("sq_dist_sum_doc", sq_dist_sum)
    >>> q = torch.tensor([[0.0, 1.0]]); p = torch.tensor([[0.0, 2.0, 4.0]])   # 1-D points, component-major
    >>> pair_reduce(K, q, p, backend="chunked").tolist()
    [[20.0, 11.0]]
"""

from __future__ import annotations

import os
import threading
import types
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ._checks import check_choice, check_int

__all__ = [
    "PairKernel",
    "pair_reduce",
    "chunk_rows",
    "ENGINE_BACKENDS",
    "COMPILE_NOW_PAIRS",
    "COMPILE_AFTER_PAIRS",
    "compile_enabled",
    "compiled_kernels",
    "reset_compile_counters",
]

#: backends of the engine (``"chunked"`` is the eager path)
ENGINE_BACKENDS = ("auto", "compiled", "chunked")

#: pair entries per eager temporary on the CPU (about 2 MB in float64: the L2 cache of one core)
CPU_EAGER_BUDGET = 1 << 18
#: pair entries per row block fed to a compiled kernel on the CPU (the fused loop keeps nothing per pair)
CPU_COMPILED_BUDGET = 1 << 24
#: pair entries per row block on a GPU (eager and compiled)
GPU_BUDGET = 1 << 26

#: ``backend="auto"`` compiles at once when one call evaluates at least this many pairs (N = 4096 squared)
COMPILE_NOW_PAIRS = 4096 * 4096
#: ... or once this many pairs have been evaluated eagerly for the same kernel (about 2-4 s of eager work on a CPU)
COMPILE_AFTER_PAIRS = 200_000_000

PairFunction = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class PairKernel:
    r"""A named pair function :math:`(\text{rows}, \text{cols}, \text{consts})\mapsto(k_{out}, B)` for :func:`pair_reduce`.

    Args:
        name: identifier; together with the dtype and device it keys the compiled kernel.
        fused: the pair function written for ``torch.compile`` (pointwise ops on ``(B, N)`` broadcasts, then one
            reduction over the columns).
        eager: optional faster formulation for the eager path (e.g. contractions by matrix products); defaults to
            ``fused``. Both must agree to round-off.
    """

    name: str
    fused: PairFunction
    eager: PairFunction | None = None


@dataclass
class _KernelState:
    compiled: Callable | None = None
    broken: bool = False
    eager_pairs: int = 0


_STATE: dict[tuple, _KernelState] = {}
_LOCK = threading.Lock()


def compile_enabled(device: torch.device | str | None = None) -> bool:
    """Whether ``torch.compile`` paths may be used (on ``device``).

    False when the environment variable ``LANDAU_LITE_COMPILE`` is ``0`` (every compiled path off), and on the CPU
    when ``ATEN_CPU_CAPABILITY=default`` holds ATen's kernels at their portable level: Inductor's generated C++ then
    does not build (its vector headers follow the CPU, ATen's do not), so the eager path is taken without trying.
    """
    if os.environ.get("LANDAU_LITE_COMPILE", "1") == "0":
        return False
    cpu = device is None or torch.device(device).type == "cpu"
    return not (cpu and os.environ.get("ATEN_CPU_CAPABILITY", "").lower() == "default")


def compiled_kernels() -> list[str]:
    """Names (with dtype and device) of the kernels compiled in this process, e.g. for a benchmark header."""
    return sorted(f"{k[0]}[{k[1]}, {k[2]}]" for k, st in _STATE.items() if st.compiled is not None)


def reset_compile_counters() -> None:
    """Forget the eager work counted by ``backend="auto"`` (compiled kernels stay compiled)."""
    with _LOCK:
        for st in _STATE.values():
            st.eager_pairs = 0


def chunk_rows(n_cols: int, device: torch.device, *, compiled: bool = False, chunk_size: int | None = None) -> int:
    """Rows per block so that a block holds about the budget of pair entries (``chunk_size`` overrides)."""
    if chunk_size is not None:
        return check_int(chunk_size, "chunk_size", lo=1)
    if device.type == "cuda":
        budget = GPU_BUDGET
    else:
        budget = CPU_COMPILED_BUDGET if compiled else CPU_EAGER_BUDGET
    return int(max(1, budget // max(n_cols, 1)))


def _state(kernel: PairKernel, dtype: torch.dtype, device: torch.device) -> tuple[tuple, _KernelState]:
    key = (kernel.name, str(dtype).replace("torch.", ""), device.type)
    with _LOCK:
        st = _STATE.get(key)
        if st is None:
            st = _STATE[key] = _KernelState()
    return key, st


def _compile(kernel: PairKernel, key: tuple) -> Callable:
    """``torch.compile`` a fresh code object per key, so dynamo's recompile budget is never shared between kernels."""
    fn = kernel.fused
    tag = "_".join(str(k) for k in key)
    tag = "".join(ch if ch.isalnum() else "_" for ch in tag)
    code = fn.__code__.replace(co_name=f"pairs_{tag}")
    fresh = types.FunctionType(code, fn.__globals__, f"pairs_{tag}", fn.__defaults__, fn.__closure__)
    return torch.compile(fresh, fullgraph=True, dynamic=True)


def _use_compiled(backend: str, st: _KernelState, work: int, device: torch.device) -> bool:
    if backend == "chunked" or st.broken or not compile_enabled(device):
        return False
    if backend == "compiled" or st.compiled is not None or device.type == "cuda":
        return True
    if work >= COMPILE_NOW_PAIRS:
        return True
    with _LOCK:
        st.eager_pairs += work
        return st.eager_pairs > COMPILE_AFTER_PAIRS


def _blocks(m: int, chunk: int) -> list[tuple[int, int]]:
    """Row blocks ``[a, b)``; a trailing block of one row is merged into the previous one (size-1 dims recompile)."""
    out = [(a, min(a + chunk, m)) for a in range(0, m, chunk)]
    if len(out) > 1 and out[-1][1] - out[-1][0] == 1:
        a, _ = out[-2]
        out[-2:] = [(a, m)]
    return out


def _run_blocks(fn: Callable, rows: Tensor, cols: Tensor, consts: Tensor, chunk: int, *, contiguous: bool) -> Tensor:
    """Row blocks written into one preallocated output (no values, no gradient).

    Writing each block into its slot, instead of collecting small results and concatenating them, matters for the
    CPU memory: a small result allocated after each block's temporaries pins the top of the C heap, and glibc then
    grows the heap by one block per iteration instead of reusing the freed temporaries (measured: +250 MiB peak RSS
    for N = 8000 in float32, i.e. the N x N the chunking is there to avoid).
    """
    out: Tensor | None = None
    for a, b in _blocks(rows.shape[1], chunk):
        block = rows[:, a:b].contiguous() if contiguous else rows[:, a:b]
        res = fn(block, cols, consts)
        if out is None:
            out = torch.empty(res.shape[0], rows.shape[1], dtype=res.dtype, device=res.device)
        out[:, a:b] = res
        del res
    assert out is not None
    return out


def _run_checkpointed(fn: PairFunction, rows: Tensor, cols: Tensor, consts: Tensor, chunk: int) -> Tensor:
    """Row blocks under :func:`torch.utils.checkpoint.checkpoint`: the backward pass recomputes each block."""
    from torch.utils.checkpoint import checkpoint

    parts = [checkpoint(fn, rows[:, a:b], cols, consts, use_reentrant=False) for a, b in _blocks(rows.shape[1], chunk)]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def pair_reduce(kernel: PairKernel, rows: Tensor, cols: Tensor, consts: Tensor | None = None, *,
                backend: str = "auto", chunk_size: int | None = None) -> Tensor:
    r"""Evaluate ``kernel`` for every row against all columns: ``(k_r, M), (k_c, N) -> (k_out, M)``.

    Args:
        kernel: the :class:`PairKernel`.
        rows: ``(k_r, M)`` query data, component-major (contiguous), float32/float64.
        cols: ``(k_c, N)`` source data, same dtype and device.
        consts: optional 1-D tensor of runtime scalars passed to the pair function (default: empty).
        backend: ``"auto"``, ``"compiled"`` or ``"chunked"`` (see the module docstring).
        chunk_size: rows per block (default: a budget of pair entries per block).

    The caller validates shapes and values; this function only schedules the work.
    """
    check_choice(backend, "backend", ENGINE_BACKENDS)
    device = rows.device
    if consts is None:
        consts = torch.zeros(0, dtype=rows.dtype, device=device)
    m, n = rows.shape[1], cols.shape[1]
    grad = torch.is_grad_enabled() and (rows.requires_grad or cols.requires_grad or consts.requires_grad)
    key, st = _state(kernel, rows.dtype, device)
    if not grad and n > 1 and _use_compiled(backend, st, m * n, device):
        if st.compiled is None:
            st.compiled = _compile(kernel, key)
        chunk = chunk_rows(n, device, compiled=True, chunk_size=chunk_size)
        try:
            return _run_blocks(st.compiled, rows.contiguous(), cols.contiguous(), consts, chunk, contiguous=True)
        except Exception as exc:  # noqa: BLE001 - compilation needs a C++ compiler (CPU) or Triton (GPU)
            st.broken, st.compiled = True, None
            warnings.warn(f"landau_lite.pairs: torch.compile failed for kernel {key} ({type(exc).__name__}: "
                          f"{str(exc)[:200]}); using the eager chunked path", RuntimeWarning, stacklevel=2)
    chunk = chunk_rows(n, device, chunk_size=chunk_size)
    if grad:   # the fused form is free of in-place operations, so autograd can replay it block by block
        return _run_checkpointed(kernel.fused, rows, cols, consts, chunk)
    return _run_blocks(kernel.eager or kernel.fused, rows, cols, consts, chunk, contiguous=False)
