"""The memory budget for what user input makes arlearn build.

Files, specs and options a user gives decide how big some structures get: a Turing machine's
tableau (steps × tape × …), a `.bench` netlist and its threshold normal form, a machine spec,
one story of a text corpus, a task's sequences. Each of those is estimated *before* it is built
(bytes, from a per-item cost measured on the real structures) and refused with one
`ArlearnError` line, naming the estimate and the budget, when the estimate exceeds the budget:
a clear refusal instead of a MemoryError traceback or the OOM killer.

The budget is the environment variable `ARLEARN_MEMORY_BUDGET_MB` (megabytes, 2^20 bytes) when
set; otherwise half of what this process can still allocate: the smaller of the available memory
(`arlearn.device.available_memory`: MemAvailable, capped by a cgroup limit) and the room left
under an address-space limit (`ulimit -v`, RLIMIT_AS). Half, because the estimates are of the
structure itself and building it also holds temporaries.
"""

from __future__ import annotations

import os

from arlearn.errors import ArlearnError

BUDGET_ENV = "ARLEARN_MEMORY_BUDGET_MB"
#: the budget when nothing can be measured (no /proc, no cgroup): 4 GiB
FALLBACK_BUDGET = 4 << 30
#: the share of the memory this process can still allocate that one structure may plan to use
SHARE = 0.5


def _address_space_left() -> int | None:
    """Bytes left under RLIMIT_AS (None: no such limit, or it cannot be read)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        return max(soft - used, 0)
    except (ImportError, OSError, StopIteration, ValueError):
        return None


def memory_budget() -> tuple[int, str]:
    """(bytes one structure built from user input may use, where that figure comes from)."""
    env = os.environ.get(BUDGET_ENV, "").strip()
    if env:
        try:
            mb = float(env)
        except ValueError:
            raise ArlearnError(f"{BUDGET_ENV}={env!r} is not a number of megabytes") from None
        if not mb > 0:
            raise ArlearnError(f"{BUDGET_ENV}={env!r} must be a positive number of megabytes")
        return int(mb * 2**20), f"{BUDGET_ENV}={env}"
    from arlearn.device import available_memory

    room = [m for m in (available_memory(), _address_space_left()) if m is not None]
    if not room:
        return FALLBACK_BUDGET, f"the default; set {BUDGET_ENV} to change it"
    return int(min(room) * SHARE), f"half the memory this process can still allocate; set {BUDGET_ENV} to change it"


def size_text(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    if n >= 2**20:
        return f"{n / 2**20:.0f} MB"
    return f"{n / 2**10:.0f} KB"


def check_memory(what: str, needed: int, hint: str = "") -> None:
    """Refuse, in one line, building `what` (an estimated `needed` bytes) over the memory budget.
    `what` says what it is and its size in its own units (gates, cells, tokens); `hint` what
    the user can change, if anything."""
    budget, source = memory_budget()
    if needed > budget:
        raise ArlearnError(f"{what} would need about {size_text(needed)} of memory, over the budget of "
                           f"{size_text(budget)} ({source})" + (f"; {hint}" if hint else ""))
