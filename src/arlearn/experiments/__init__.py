"""Experiments: sweeps that measure length and sample complexity, and the speed benchmark.

Pure library code that runs training or timing and returns data (and writes `sweep.json`): the
sweep engine (`sweep`), its statistics (`complexity`), seeds as an axis (`seeds`), where a grid's
cells run (`executors`: serially, side by side on this machine, or on Ray), `arlearn bench`
(`bench`, `bench_stats`).
Nothing here prints, plots or formats text; that is `arlearn.reporting`.
"""

from arlearn.experiments.bench import BenchConfig, run_bench
from arlearn.experiments.complexity import (
    aggregate,
    length_complexity,
    sample_complexity,
    sample_focus,
    size_complexity,
)
from arlearn.experiments.sweep import Cell, SweepSpec, length_sweep, sample_sweep

__all__ = ["BenchConfig", "Cell", "SweepSpec", "aggregate", "length_complexity", "length_sweep", "run_bench",
           "sample_complexity", "sample_focus", "sample_sweep", "size_complexity"]
