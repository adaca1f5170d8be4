"""Device and precision choice: `auto` picks cuda, then mps, then cpu; bf16 where it is fast; the
`RunContext` that carries these choices (with threads, batch size and progress) as one object
through evaluation, sampling and generation; and how much host memory is left
(`available_memory`, for refusing work that would not fit)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
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


@dataclasses.dataclass(frozen=True)
class RunContext:
    """Where and how a model computes, as one object: what evaluation, sampling and generation
    take instead of loose device / bf16 / batch size / progress parameters.

    The default — the CPU in fp32, torch's own thread count, each function's own batch size, no
    progress bar — is what a plain library call gets (`sample_tokens(model, prompt, 20)`). A run
    builds its context once from its config (`from_config`: train.device, train.dtype,
    train.threads, eval.batch_size); a CLI command builds it from the run's config and its flags
    (--device, --no-progress)."""

    device: torch.device = torch.device("cpu")  #: a torch.device (a string is resolved: "auto", "cuda:1", …)
    bf16: bool = False  #: bf16 autocast (the decision, already made for this device: `use_bf16`)
    threads: int = 0  #: CPU threads to compute with (0: leave torch's setting); see `use_threads`
    batch_size: int | None = None  #: sequences (or windows) per batch; None: each function's own default
    progress: bool = False  #: a progress bar with an ETA on stderr, where the function has one

    def __post_init__(self):
        if not isinstance(self.device, torch.device):
            object.__setattr__(self, "device", resolve_device(str(self.device)))
        if self.batch_size is not None and self.batch_size < 1:
            raise ArlearnError(f"batch size must be ≥ 1, got {self.batch_size}")
        if self.threads < 0:
            raise ArlearnError(f"threads must be ≥ 0 (0: torch's default), got {self.threads}")

    @classmethod
    def from_config(cls, cfg, device: torch.device | str | None = None, progress: bool = False) -> "RunContext":
        """A run's context from its `RunConfig`: train.device resolved (or `device`, e.g. a CLI's
        --device; a torch.device is taken as is), bf16 where train.dtype and that device allow,
        train.threads, eval.batch_size."""
        if not isinstance(device, torch.device):
            device = resolve_device(cfg.train.device if device is None else device)
        return cls(device, use_bf16(cfg.train.dtype, device), cfg.train.threads, cfg.eval.batch_size, progress)

    @property
    def dtype(self) -> torch.dtype:
        """The matmul precision: torch.bfloat16 under bf16 autocast, else torch.float32."""
        return torch.bfloat16 if self.bf16 else torch.float32

    def batch(self, default: int) -> int:
        """The batch size: this context's, else the caller's `default`."""
        return self.batch_size or default

    def replace(self, **changes) -> "RunContext":
        """This context with some fields changed (e.g. `ctx.replace(progress=False)`)."""
        return dataclasses.replace(self, **changes)

    def autocast(self):
        """The autocast block of this device and precision (`autocast`)."""
        return autocast(self.device, self.bf16)

    def use_threads(self) -> None:
        """Set torch's CPU thread count to `threads` (nothing when 0). A process-wide setting: the
        trainer and scripts call it once, before any torch work; library functions never do."""
        if self.threads:
            torch.set_num_threads(self.threads)


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


def release_memory() -> bool:
    """Hand the heap's free memory back to the OS: a collection, then glibc's `malloc_trim(0)`,
    which gives back every whole free page of every arena (the tuned allocator, above, never
    does so by itself). Called between the cells of a grid (`arlearn.experiments.executors`):
    otherwise a process that trains cell after cell keeps the high-water heap of all of them,
    grown further by fragmentation as the cells' sizes change. Costs milliseconds; the next
    cell's first steps fault their pages in again. Returns whether the trim ran (False where
    there is no glibc)."""
    import gc

    gc.collect()
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return False
    trim(0)
    return True
