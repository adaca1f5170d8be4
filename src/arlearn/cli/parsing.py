"""Command-line list syntax: the text forms of sweep lists and `arlearn bench` options.

This module owns turning what a user types into the values the library takes: `parse_list`
reads `--models`/`--cot`/`--seeds`/`--train-examples` ('a,b,c'; integer ranges 'lo..hi'),
`parse_bench_options` reads `arlearn bench key=value` options whose values are lists
('fp32,bf16', 'none' for an empty list; 'AxBxC' for peak_size). Its errors name the CLI flags,
since only the CLI calls it; the library checks the values themselves.
"""

from __future__ import annotations

from arlearn.errors import ArlearnError

BENCH_NAME_LISTS = ("dtypes", "models", "impls")  #: comma lists of names; "none": empty


def parse_list(text: str, what: str, cast=str) -> list:
    """'a,b,c' → ['a','b','c'] (ints with cast=int; 'a..b' ranges allowed for ints)."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    if not items:
        raise ArlearnError(f"empty sweep: --{what} is empty")
    out = []
    for t in items:
        try:
            if cast is int and ".." in t:
                lo, hi = (int(x) for x in t.split(".."))
                out += list(range(lo, hi + 1))
            else:
                out.append(cast(t))
        except ValueError:
            raise ArlearnError(f"--{what}: {t!r} is not a valid {cast.__name__}") from None
    return out


def parse_bench_options(options: dict) -> dict:
    """`arlearn bench` key=value options (values already parsed by `arlearn.config.parse_value`)
    with their list syntax applied: dtypes/models/impls 'a,b' → ('a', 'b'); layer_batches
    '64,256' → (64, 256); peak_size '2048x4096x1024' → (2048, 4096, 1024); 'none' → ().
    The values are not checked here: `arlearn.experiments.bench.run_bench` checks every size."""
    from arlearn.config import parse_value

    opts = {}
    for k, v in options.items():
        opts[k] = (() if v == "none" else tuple(str(v).split(","))) if k in BENCH_NAME_LISTS else v
    if "layer_batches" in opts:
        v = str(opts["layer_batches"])
        opts["layer_batches"] = () if v == "none" else tuple(parse_value(x) for x in v.split(","))
    if "peak_size" in opts:
        opts["peak_size"] = tuple(parse_value(x) for x in str(opts["peak_size"]).split("x"))
    return opts
