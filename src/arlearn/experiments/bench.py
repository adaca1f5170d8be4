"""`arlearn bench`: how fast arlearn's block-causal models run, side by side in one run.

This module owns the measuring — the configuration (`BenchConfig`), the cases, timing, memory
limits and process isolation — and returns the results as data (`run_bench`); the medians,
ratios and projections are computed in `arlearn.experiments.bench_stats`, the text tables in
`arlearn.reporting.bench`.

Three measurements, each reported as ratios so that numbers from a shared machine still mean
something:

(a) peak     the machine's dense matmul throughput (fp32 and bf16) at sizes comparable to the
             models' GEMMs, measured first and last (the higher counts): the denominator of
             every MFU below.
(b) layer    one block-causal layer, forward + backward: arlearn's packed layer vs the authors'
             dense-masked formulation (a dense (T·d)² weight times a block mask every step); with
             impls `shared` / `shared-window` also the weight-shared map (`SharedCausalLinear`:
             a kernel over the whole context, convolved by FFT when long, or one of `window`
             distances), whose ratios are against the per-pair layer (`arlearn`).
(c) step     one full training step (forward, cross-entropy, backward, AdamW) of the paper's
             TinyStories linear model (T=64, d=256, V=50,258) and multiplication MLP (T=307,
             d=128, V=117), arlearn vs dense-masked: time per step, tokens/s, useful FLOP/s
             (only the FLOPs of the causal triangle, head and FFN count), MFU, peak memory.

From (c) it also projects the time of one epoch of the full TinyStories training set
(`epoch_tokens`, ~470M GPT-2 tokens) at the TinyStories step's measured tokens/s.

On CPU each case runs in a fresh subprocess so its peak memory (RSS high-water mark above the
process's baseline) is its own; on CUDA peak memory is `torch.cuda.max_memory_allocated`.
Cases whose estimated memory exceeds what the machine has free are skipped, with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from arlearn.device import autocast, cpu_name
from arlearn.errors import ArlearnError
from arlearn.experiments.bench_stats import median_cases, projections, ratios

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
#: safety factor on `estimate_step_gb`: the estimate counts only the big tensors (weights,
#: gradients, AdamW state, masks, logits); +15% for what it leaves out (activations, autograd
#: and autocast temporaries, allocator rounding), so a case is skipped rather than run out of memory
MEMORY_MARGIN = 1.15


@dataclass
class BenchConfig:
    device: str = "auto"
    dtypes: tuple = ("fp32", "bf16")
    threads: int = 0  #: CPU threads (0: torch default)
    reps: int = 3  #: timed repetitions (median reported) after one warm-up
    peak_size: tuple = (2048, 4096, 1024)  #: m, k, n of the peak matmul
    peak_warmup_s: float = 1.0  #: keep multiplying this long before timing the peak (AMX/clock ramp-up)
    layer_T: int = 64
    layer_d: int = 256
    layer_batches: tuple = (64, 256, 1024)  #: sequences per fwd+bwd; each a case
    chunk: int = 4  #: arlearn's chunk size (output positions per GEMM; 4 measured fastest here)
    linear_T: int = 64
    linear_d: int = 256
    linear_V: int = 50258
    linear_batch: int = 16
    mlp_T: int = 307
    mlp_d: int = 128
    mlp_V: int = 117
    mlp_batch: int = 32
    epoch_tokens: int = 470_000_000  #: the full TinyStories train set: ~2.1M stories, ~470M GPT-2 tokens
    models: tuple = ("linear", "mlp")
    #: "arlearn" (packed per-pair), "dense" (dense-masked), "shared" (weight-shared, whole-context
    #: kernel), "shared-window" (weight-shared, a `window`-long kernel)
    impls: tuple = ("arlearn", "dense")
    window: int = 64  #: the kernel length of impl "shared-window"
    memory_limit_gb: float = 0.0  #: skip cases estimated above this (0: 80% of free memory)
    isolate: bool = True  #: CPU: each case in a fresh process (clean peak-RSS figures)
    rounds: int = 1  #: run every case this many times, the two implementations in alternating order; medians reported


# -- helpers ----------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device, reps: int) -> float:
    """Median seconds of `reps` calls after one warm-up call."""
    fn()
    _sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def free_memory_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) / 2**20
    except (OSError, KeyError, ValueError):
        return float("inf")


# -- (a) peak ----------------------------------------------------------------------------
def peak_matmul(device, dtype: str, size, reps: int, warmup_s: float = 1.0) -> dict:
    """The fastest of `reps` (at least 5) dense m×k @ k×n products, after `warmup_s` seconds of
    the same products: the first AMX products of a process run at a fraction of the unit's
    speed (measured 0.38 vs 0.89 TFLOP/s at the start and end of one run), and a peak is a
    best case, so the best time counts (a higher peak only lowers every MFU below)."""
    m, k, n = size
    dt = DTYPES[dtype]
    a = torch.randn(m, k, device=device).to(dt)
    b = torch.randn(k, n, device=device).to(dt)
    t0 = time.perf_counter()
    while True:
        a @ b
        _sync(device)
        if time.perf_counter() - t0 >= warmup_s:
            break
    times = []
    for _ in range(max(reps, 5)):
        t1 = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t1)
    t = min(times)
    return {"what": "peak", "dtype": dtype, "size": [m, k, n], "seconds": t, "flops": 2 * m * k * n / t}


# -- (b) layer ---------------------------------------------------------------------------
def triangle_macs(T: int, d_in: int, d_out: int) -> int:
    """Multiply-adds of the useful (causal) part of one block-causal map per sequence."""
    return T * (T + 1) // 2 * d_in * d_out


IMPLS = ("arlearn", "dense", "shared", "shared-window")


def _make_layer(impl: str, T: int, d: int, chunk: int, device, window: int = 0):
    from arlearn.models import BlockCausalLinear, DenseMaskedBlockCausal, SharedCausalLinear

    if impl.startswith("shared"):
        layer = SharedCausalLinear(T, d, d, window=window if impl == "shared-window" else 0)
    else:
        layer = BlockCausalLinear(T, d, d, chunk=chunk) if impl == "arlearn" else DenseMaskedBlockCausal(T, d, d)
    return layer.to(device)


def bench_layer(cfg: BenchConfig, device, impl: str, dtype: str, B: int) -> dict:
    T, d = cfg.layer_T, cfg.layer_d
    torch.manual_seed(0)
    layer = _make_layer(impl, T, d, cfg.chunk, device, cfg.window)
    x = torch.randn(B, T, d, device=device, requires_grad=True)
    g = torch.randn(B, T, d, device=device)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        with autocast(device, dtype == "bf16"):
            y = layer(x)
        y.backward(g.to(y.dtype))

    t = _time(step, device, cfg.reps)
    useful = 3 * 2 * B * triangle_macs(T, d, d)  # forward + two backward GEMMs
    if impl == "shared-window":  # its useful work: K distances, not the whole triangle
        useful = 3 * 2 * B * T * min(cfg.window, T) * d * d
    return {"what": "layer", "impl": impl, "dtype": dtype, "T": T, "d": d, "batch": B, "seconds": t,
            "flops": useful / t, "weight_bytes": _param_bytes(layer), "buffer_bytes": _buffer_bytes(layer)}


def _param_bytes(m) -> int:
    return sum(p.numel() * p.element_size() for p in m.parameters())


def _buffer_bytes(m) -> int:
    return sum(b.numel() * b.element_size() for b in m.buffers())


# -- (c) training step -------------------------------------------------------------------
def model_shape(cfg: BenchConfig, name: str) -> dict:
    if name == "linear":
        return {"T": cfg.linear_T, "d": cfg.linear_d, "V": cfg.linear_V, "batch": cfg.linear_batch, "mlp": False}
    return {"T": cfg.mlp_T, "d": cfg.mlp_d, "V": cfg.mlp_V, "batch": cfg.mlp_batch, "mlp": True}


def step_useful_flops(shape: dict) -> int:
    """Forward+backward FLOPs of one step that a dense-masked model also needs (×6 per MAC)."""
    T, d, V, B = shape["T"], shape["d"], shape["V"], shape["batch"]
    macs = triangle_macs(T, d, d) + T * d * V + (T * d * d if shape["mlp"] else 0)
    return 6 * B * macs


def estimate_step_gb(shape: dict, impl: str, chunk: int) -> float:
    """Rough peak memory of a training step: weights, grads, AdamW state, masks, temporaries."""
    T, d, V = shape["T"], shape["d"], shape["V"]
    if impl == "dense":
        mix = (T * d) ** 2 * 4 * 4 + 2 * (T * d) ** 2 * 4  # w, grad, 2 Adam + mask + w*mask
    elif impl.startswith("shared"):
        mix = 2 * T * d * d * 4 * 4
    else:
        c = min(chunk, T)
        mix = triangle_macs(T, d, d) * (1 + (c - 1) / (T + 1)) * 4 * 4
    other = 2 * V * d * 4 * 4 + 3 * shape["batch"] * T * V * 4
    return (mix + other) / 2**30 * MEMORY_MARGIN


def build_bench_model(shape: dict, impl: str, chunk: int, device, window: int = 0):
    from arlearn.models import BlockCausalNet, DenseMaskedBlockCausal

    torch.manual_seed(0)
    net = BlockCausalNet(shape["V"], shape["T"], shape["d"], mlp=shape["mlp"], chunk=chunk,
                         shared=impl.startswith("shared"), window=window if impl == "shared-window" else 0)
    if impl == "dense":
        net.mix[0] = DenseMaskedBlockCausal(shape["T"], shape["d"], shape["d"])
    return net.to(device)


def bench_step(cfg: BenchConfig, device, model: str, impl: str, dtype: str) -> dict:
    from arlearn.training.step import make_optimizer

    shape = model_shape(cfg, model)
    base_rss = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    net = build_bench_model(shape, impl, cfg.chunk, device, cfg.window)
    opt = make_optimizer(net, lr=1e-4, weight_decay=0.1)
    T, V, B = shape["T"], shape["V"], shape["batch"]
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (B, T + 1), generator=g).to(device)

    def step():
        with autocast(device, dtype == "bf16"):
            logits = net(ids[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, V), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = _time(step, device, cfg.reps)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = _peak_rss_mb() - base_rss
    flops = step_useful_flops(shape)
    return {"what": "step", "model": model, "impl": impl, "dtype": dtype, **shape, "seconds": t,
            "tokens_per_s": B * T / t, "flops": flops / t, "peak_memory_mb": round(peak_mb, 1),
            "weight_bytes": _param_bytes(net), "buffer_bytes": _buffer_bytes(net),
            "parameters": sum(p.numel() for p in net.parameters())}


# -- driver ------------------------------------------------------------------------------
def _run_case(cfg_dict: dict, kind: str, args: tuple) -> dict:
    from arlearn.device import tune_cpu_allocator

    tune_cpu_allocator()  # as the CLI does (this may be a fresh process): ARLEARN_MALLOC decides
    cfg = BenchConfig(**cfg_dict)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from arlearn.device import resolve_device

    device = resolve_device(cfg.device)
    fn = {"peak": peak_matmul, "layer": bench_layer, "step": bench_step}[kind]
    if kind == "peak":
        return fn(device, *args, cfg.peak_size, cfg.reps, cfg.peak_warmup_s)
    return fn(cfg, device, *args)


def _isolated(cfg: BenchConfig, kind: str, args: tuple) -> dict:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as ex:
        return ex.submit(_run_case, dataclasses.asdict(cfg), kind, args).result()


def cases(cfg: BenchConfig) -> list[tuple[str, tuple]]:
    """Every case of every round. On a shared machine the speed drifts by tens of percent over
    minutes, so each comparison's two implementations run back to back, in the opposite order
    in odd rounds, and ratios use the medians over rounds."""
    out = [("peak", (dt,)) for dt in cfg.dtypes]
    for rnd in range(cfg.rounds):
        impls = cfg.impls if rnd % 2 == 0 else tuple(reversed(cfg.impls))
        out += [("layer", (impl, dt, b)) for b in cfg.layer_batches for dt in cfg.dtypes for impl in impls]
        out += [("step", (m, impl, dt)) for m in cfg.models for dt in cfg.dtypes for impl in impls]
    # the peak again at the end: on a shared machine the load drifts; MFU uses the higher one
    return out + [("peak", (dt,)) for dt in cfg.dtypes]


def _check_sizes(cfg: BenchConfig) -> None:
    """Every size, count and batch a positive integer (threads ≥ 0), or one clear error."""
    def positive(name, v, least=1):
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise ArlearnError(f"bench: {name} must be an integer ≥ {least}, got {v!r}")

    for name in ("reps", "rounds", "layer_T", "layer_d", "chunk", "linear_T", "linear_d", "linear_V",
                 "linear_batch", "mlp_T", "mlp_d", "mlp_V", "mlp_batch", "epoch_tokens", "window"):
        positive(name, getattr(cfg, name))
    positive("threads", cfg.threads, 0)
    for b in cfg.layer_batches:
        positive("every layer_batches entry", b)
    if len(cfg.peak_size) != 3:
        raise ArlearnError(f"bench: peak_size must be MxKxN, got {'x'.join(map(str, cfg.peak_size))}")
    for v in cfg.peak_size:
        positive("every peak_size entry", v)


def _check_config(cfg: BenchConfig) -> None:
    """Every name and size of `cfg` valid, or one clear error naming the option."""
    for dt in cfg.dtypes:
        if dt not in DTYPES:
            raise ArlearnError(f"bench: unknown dtype {dt!r} (use fp32 or bf16)")
    for m in cfg.models:
        if m not in ("linear", "mlp"):
            raise ArlearnError(f"bench: unknown model {m!r} (use linear or mlp)")
    for impl in cfg.impls:
        if impl not in IMPLS:
            raise ArlearnError(f"bench: unknown implementation {impl!r} (use {', '.join(IMPLS)})")
    _check_sizes(cfg)


def _environment(cfg: BenchConfig, device: torch.device) -> dict:
    return {"device": str(device), "torch": torch.__version__,
            "threads": cfg.threads or torch.get_num_threads(),
            "cpu": cpu_name() if device.type == "cpu" else torch.cuda.get_device_name(device),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def run_bench(cfg: BenchConfig, progress: bool = True, log=None, on_case=None) -> dict:
    """Run every case; return {"config", "environment", "results", "medians", "ratios",
    "projections", "cases_done", "cases_total", "complete"}.

    `on_case(report)`, if given, is called before the first case and after every case with the
    report so far (config, environment, results, cases_done, cases_total, complete=False), and
    once more with the final report — `arlearn bench -o` rewrites its file atomically each time,
    so a benchmark that is stopped keeps its finished cases (and an unwritable file fails first).
    """
    from tqdm.auto import tqdm

    from arlearn.device import resolve_device

    _check_config(cfg)
    device = resolve_device(cfg.device)
    limit = cfg.memory_limit_gb or (0.8 * free_memory_gb() if device.type == "cpu" else
                                    0.9 * torch.cuda.get_device_properties(device).total_memory / 2**30)
    isolate = cfg.isolate and device.type == "cpu"
    todo = cases(cfg)
    report = {"config": dataclasses.asdict(cfg), "environment": _environment(cfg, device), "results": [],
              "cases_done": 0, "cases_total": len(todo), "complete": False}
    results = report["results"]
    if on_case:
        on_case(report)
    for kind, args in tqdm(todo, desc="bench", disable=not progress, dynamic_ncols=True):
        need = estimate_step_gb(model_shape(cfg, args[0]), args[1], cfg.chunk) if kind == "step" else 0.0
        if need > limit:
            r = {"what": "step", "model": args[0], "impl": args[1], "dtype": args[2],
                 "skipped": f"needs ~{need:.1f} GB, limit {limit:.1f} GB"}
        else:
            r = _isolated(cfg, kind, args) if isolate else _run_case(dataclasses.asdict(cfg), kind, args)
        results.append(r)
        report["cases_done"] = len(results)
        if log:
            log(json.dumps(r))
        if on_case:
            on_case(report)
    medians = median_cases(results)
    report.update(medians=medians, ratios=ratios(results), projections=projections(medians, cfg.epoch_tokens),
                  complete=True)
    if on_case:
        on_case(report)
    return report
