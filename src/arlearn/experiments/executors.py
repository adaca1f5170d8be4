"""Executors: where the independent cells of a grid (seeds, sweep cells) run.

`run_cells(fn, jobs, executor=...)` calls `fn(*args)` once per entry of `jobs` and returns the
results in job order; `on_result(i, result)` is called in the driver (this process) as each
result arrives, so callers rewrite their report files (seeds.json, sweep.json) as cells finish.

- `serial`: one cell after another in this process (`fn` is called directly).
- `local`: a process pool on this machine (spawn context: forking a process that has started
  torch's thread pools is unsafe). The machine's cores are split among the cells: each cell runs
  with `threads` CPU threads (the cells' `train.threads`; 0: cores // workers), and
  workers = max(1, cores // threads), capped at the number of cells, so a 3-seed run on 2 cores
  with one thread per cell trains two cells at once. A worker process that dies (killed, out of
  memory) breaks the pool: that is one `ArlearnError`, and a rerun resumes at the cells without
  a finished result. Cells that need a GPU run one at a time (one process per GPU is Ray's job).
  A script that calls it (not the `arlearn` command) needs the `if __name__ == "__main__":`
  guard: spawned workers import the script's main module.
- `ray`: one Ray Core task per cell (`num_cpus=threads`, `num_gpus=1` for a cuda cell,
  `max_retries=2`, so a task whose worker died is run again). `ray.init()` starts an embedded
  local Ray when no address is given; `ray_address` ("auto", "HOST:6379") joins a cluster. Ray
  is the optional extra `arlearn[ray]`.

Each job is an ordinary run into its own directory; an `ArlearnError` raised inside a cell is
re-raised in the driver as it was (one line for the CLI). CPU training is deterministic given its
seed and thread count, so a cell gives the same bits under every executor with the same threads.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import traceback
from typing import Any, Callable, Sequence

from arlearn.errors import ArlearnError, Interrupted

EXECUTORS = ("serial", "local", "ray")
#: the line `--executor ray` without Ray installed
RAY_MISSING = "--executor ray needs Ray: pip install 'arlearn[ray]'"
#: how often Ray runs a task again whose worker process died
RAY_RETRIES = 2

OnResult = Callable[[int, Any], None]
_tuned = False  #: whether this (worker) process has tuned its allocator


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def plan(n_cells: int, threads: int = 0, n_cores: int | None = None) -> tuple[int, int]:
    """(workers, threads per cell) for `n_cells` cells side by side on `n_cores` cores (default:
    this machine's). `threads` 0 (unset) splits the cores evenly among min(cells, cores) workers.

    One exception keeps every core busy to the end: when the cells would take two rounds and the
    second is partly empty (3 cells on 2 one-thread workers: one core idle for a whole cell), all of
    them start at once instead (at most 2 cells per core-share; each keeps its thread count, so
    the results are the same bit for bit). Measured: benchmarks/executors.py, docs/results/speed.md."""
    n_cores = n_cores or cores()
    if threads <= 0:
        workers = max(1, min(n_cells, n_cores))
        threads = max(1, n_cores // workers)
    else:
        workers = max(1, min(n_cores // threads, n_cells))
    if workers > 1 and workers < n_cells < 2 * workers:
        workers = n_cells
    return workers, threads


def wants_gpu(device: str) -> bool:
    """Whether a cell with `train.device = device` trains on a CUDA GPU (here, for "auto")."""
    if device.startswith("cuda"):
        return True
    if device == "auto":
        import torch

        return torch.cuda.is_available()
    return False


def check_executor(name: str) -> None:
    if name not in EXECUTORS:
        raise ArlearnError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
    if name == "ray":
        _ray()


def _ray():
    try:
        import ray
    except ImportError:
        raise ArlearnError(RAY_MISSING) from None
    return ray


def run_cells(fn: Callable, jobs: Sequence[tuple], executor: str = "serial", threads: int = 0,
              device: str = "cpu", ray_address: str | None = None, progress: bool = False,
              desc: str = "cells", labels: Sequence[str] | None = None,
              on_result: OnResult | None = None) -> list:
    """`[fn(*args) for args in jobs]`, run by `executor` (see the module docstring). `fn` must be
    a module-level function (the `local` and `ray` workers import it by name); `threads` is the
    CPU threads per cell (0: split the cores), `device` the cells' `train.device` (a cuda cell
    asks Ray for a GPU). `progress`: a bar over the cells in the driver (`labels` name them).
    Returns the results in job order."""
    check_executor(executor)
    jobs = [tuple(a) for a in jobs]
    labels = list(labels) if labels is not None else [str(i) for i in range(len(jobs))]
    results: list = [None] * len(jobs)
    if not jobs:
        return results
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="cell", disable=not progress, dynamic_ncols=True)

    def arrived(i: int, res) -> None:
        results[i] = res
        bar.set_postfix_str(labels[i])
        bar.update(1)
        if on_result is not None:
            on_result(i, res)

    try:
        if executor == "serial":
            from arlearn.device import release_memory

            for i, args in enumerate(jobs):
                bar.set_postfix_str(labels[i])
                res = fn(*args)
                release_memory()  # the cell's freed heap, before the next cell (see `call_cell`)
                arrived(i, res)
        elif executor == "local":
            workers, per_cell = plan(len(jobs), threads)
            if wants_gpu(device):  # one GPU here: its cells one at a time, with all the cores
                workers, per_cell = 1, threads or cores()
            _run_local(fn, jobs, workers, per_cell, labels, arrived)
        else:
            _run_ray(fn, jobs, threads, device, ray_address, labels, arrived)
    finally:
        bar.close()
    return results


def call_cell(fn: Callable, threads: int, args: tuple):
    """A cell in a worker process: `fn(*args)` with torch on `threads` CPU threads, its errors made
    safe to send back (an ArlearnError as it is; an interrupt as a plain `Interrupted`; anything
    that cannot be pickled as a RuntimeError carrying its traceback)."""
    import torch

    from arlearn.device import flush_denormals, release_memory, tune_cpu_allocator

    global _tuned
    if not _tuned:  # what the CLI does once in its own process, once in each worker
        _tuned = True
        tune_cpu_allocator()
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        # stdout is the driver's results (JSON) only
        with flush_denormals(), contextlib.redirect_stdout(sys.stderr):
            return fn(*args)
    except ArlearnError:
        raise
    except KeyboardInterrupt as e:  # SIGINT/SIGTERM reached the worker (TrainingStopped does not pickle)
        raise Interrupted(str(e) or type(e).__name__) from None
    except Exception as e:
        try:
            pickle.loads(pickle.dumps(e))
        except Exception:  # noqa: BLE001
            raise RuntimeError(f"{type(e).__name__}: {e}\n{traceback.format_exc()}") from None
        raise
    finally:  # a worker trains cell after cell: give each one's freed heap back to the OS
        release_memory()


def _died(unfinished: list[str]) -> ArlearnError:
    names = ", ".join(unfinished[:4]) + (f" and {len(unfinished) - 4} more" if len(unfinished) > 4 else "")
    return ArlearnError(f"a worker process died (killed, or out of memory?) while training; finished cells are "
                        f"kept, unfinished: {names} — rerun the same command to resume")


def _kill_workers(pool) -> None:
    """SIGKILL the workers left in a broken pool. The pool's own cleanup sends them SIGTERM, which a
    training cell takes as "stop at the next step" (arlearn.signals), and then joins them: a worker
    that outlived the one that died can be blocked for good on the result queue's lock, and the
    join (and with it the driver's shutdown) would wait forever. Their finished cells are already
    on disk; a rerun resumes at the rest."""
    procs = []
    with contextlib.suppress(Exception):  # the pool's manager thread may be clearing the table
        procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill()


def _run_local(fn, jobs, workers: int, threads: int, labels, arrived: Callable) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    clean, futures = False, {}
    try:
        futures = {pool.submit(call_cell, fn, threads, args): i for i, args in enumerate(jobs)}
        pending, finished = set(futures), set()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=futures.get):  # several at once: in job order
                try:
                    res = f.result()
                except BrokenProcessPool:
                    _kill_workers(pool)
                    raise _died([labels[i] for i in range(len(jobs)) if i not in finished]) from None
                finished.add(futures[f])
                arrived(futures[f], res)
        clean = True
    finally:
        if not clean:  # an error, or the driver interrupted: start no further cell
            for f in futures:
                f.cancel()
        # Cells already training finish (their results are kept for the rerun) or, on SIGINT/SIGTERM,
        # which reaches the workers too, stop at their next step. Workers are never terminated
        # here: one killed while it holds the pool's call-queue lock leaves the others blocked on it
        # and this shutdown waiting forever.
        pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(fn, jobs, threads: int, device: str, address: str | None, labels, arrived: Callable) -> None:
    ray = _ray()
    from ray.exceptions import RayTaskError, WorkerCrashedError

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=True)
    gpu = device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    per_cell = threads or 1
    task = ray.remote(num_cpus=per_cell, num_gpus=1 if gpu else 0, max_retries=RAY_RETRIES)(call_cell)
    refs = {task.remote(fn, per_cell, args): i for i, args in enumerate(jobs)}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    res = ray.get(ref)
                except RayTaskError as e:
                    cause = getattr(e, "cause", None)
                    if isinstance(cause, BaseException):
                        raise cause from None
                    raise
                except WorkerCrashedError:
                    unfinished = [labels[refs[r]] for r in [ref, *pending]]
                    raise _died(unfinished) from None
                arrived(refs[ref], res)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
