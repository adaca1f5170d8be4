"""Device and precision choice: `auto` picks cuda, then mps, then cpu; bf16 where it is fast; and
how much host memory is left (`available_memory`, for refusing work that would not fit)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
from pathlib import Path

import torch

from arlearn.errors import ArlearnError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ArlearnError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ArlearnError("device 'cuda' requested but no CUDA GPU is available")
    return dev


def available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup (v2) memory limit;
    None where neither can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        avail = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            left = max(int(limit) - used, 0)
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


#: CPU features that decide which matmul kernels run (and so, in bf16, the rounding path)
MATMUL_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2")


def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def usable_device(name: str) -> torch.device:
    """`train.device` resolved and tried (one tiny tensor), so a device that is missing here
    fails before the run directory is created."""
    device = resolve_device(name)
    try:
        torch.empty(1, device=device)
    except Exception as e:  # noqa: BLE001  (torch raises RuntimeError, AssertionError, NotImplementedError)
        raise ArlearnError(f"train.device={name!r} is not usable here: {str(e).splitlines()[0][:160]}") from None
    return device


@functools.lru_cache(None)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU multiplies bf16 natively (AMX or AVX512-BF16): ~5-10× fp32 here."""
    flags = _cpuinfo()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_name() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    import platform

    return platform.processor() or platform.machine()


def machine_info(device: torch.device, bf16: bool) -> dict:
    """Which hardware and kernels a run used: results from two machines can differ in bf16 (AMX
    vs AVX512-BF16 kernels round differently), so results.json records it."""
    if device.type == "cuda":
        return {"device_name": torch.cuda.get_device_name(device), "matmul_dtype": "bf16" if bf16 else "fp32"}
    words = set(next((ln.split(":", 1)[1].split() for ln in _cpuinfo().splitlines() if ln.startswith("flags")), []))
    return {"cpu": cpu_name(), "isa": [f for f in MATMUL_FLAGS if f in words],
            "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
            "threads": torch.get_num_threads(), "matmul_dtype": "bf16" if bf16 else "fp32"}


def use_bf16(dtype: str, device: torch.device) -> bool:
    if dtype == "fp32":
        return False
    if dtype == "bf16":
        return True
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_fast_bf16()


def autocast(device: torch.device, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _flushing() -> bool:
    """Whether this thread flushes subnormal floats to zero now (1e-20² is 1e-40, a subnormal)."""
    tiny = torch.tensor([1e-20])
    return bool((tiny * tiny).item() == 0.0)


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats (|x| < 1.2e-38 in fp32 and bf16) as zero in CPU arithmetic, inside
    the block; the calling thread's previous mode comes back after it. Yields whether the CPU
    supports it (x86 with SSE3).

    A model that has learned a deterministic position (a constant gate of a circuit, most of a
    Turing machine's tableau) puts probabilities like e^-90 on the wrong tokens; their gradients
    are subnormal, and x86 CPUs multiply subnormals through a slow microcode path: a weight-gradient
    GEMM with such inputs ran 88× slower here (`python benchmarks/denormal_gemm.py`), and
    learning the parity machine at n = 16 slowed from 0.37 s to 3–5 s per step once it did.
    Flushing them to zero changes nothing a float32 sum of normal-sized terms can see.

    The mode is per thread, and torch's worker threads copy it from the thread that starts them,
    at its first parallel operation: the CLI enters this block before any torch work, so all
    threads flush; the trainer enters it too (its own thread, whoever called it). Restoring the
    caller's mode on exit matters to code that checks it (hypothesis refuses to draw floats when
    subnormals are flushed)."""
    was = _flushing()
    ok = bool(torch.set_flush_denormal(True))
    try:
        yield ok
    finally:
        torch.set_flush_denormal(was)


ALLOCATOR_ENV = "ARLEARN_MALLOC"  #: "reuse" (default) or "system"


@functools.lru_cache(None)
def tune_cpu_allocator() -> bool:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc serves every allocation above 32 MB with a fresh mmap and unmaps it on
    free, so each training step's multi-hundred-MB weight gradients and bf16 weight copies are
    new pages that the kernel must fault in and zero (`python benchmarks/allocator.py`
    measures whole training steps both ways). This is what the
    PyTorch CPU tuning guide's advice to switch to jemalloc/tcmalloc fixes; glibc can do the same
    itself: no mmap (M_MMAP_MAX=0) and no trimming of the heap's top (M_TRIM_THRESHOLD=-1), so
    the process keeps its high-water memory and reuses it. Costs: freed memory is not returned
    to the OS until exit, and the heap can fragment (peak RSS measured in the benchmark).

    Applied once per process by the CLI on Linux/glibc; `ARLEARN_MALLOC=system` turns it off.
    Returns whether it was applied."""
    choice = os.environ.get(ALLOCATOR_ENV, "reuse")
    if choice not in ("reuse", "system"):
        raise ArlearnError(f"{ALLOCATOR_ENV}={choice!r} is not a choice: use 'reuse' (default) or 'system'")
    if choice == "system":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows): leave it be
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))  # -1: never trim
