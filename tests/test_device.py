"""Device/precision choice and the CPU allocator setting (behaviour only; its speed is measured
by `python benchmarks/allocator.py`, never here)."""

import pytest
import torch

from arlearn.cli import main
from arlearn.device import release_memory, tune_cpu_allocator, use_bf16
from arlearn.errors import ArlearnError


@pytest.fixture
def fresh_allocator_choice():
    tune_cpu_allocator.cache_clear()
    yield
    tune_cpu_allocator.cache_clear()


def test_allocator_setting_is_opt_out_and_validated(monkeypatch, fresh_allocator_choice):
    monkeypatch.setenv("ARLEARN_MALLOC", "system")
    assert tune_cpu_allocator() is False
    tune_cpu_allocator.cache_clear()
    monkeypatch.setenv("ARLEARN_MALLOC", "jemalloc")
    with pytest.raises(ArlearnError, match="ARLEARN_MALLOC='jemalloc'"):
        tune_cpu_allocator()


def test_allocator_setting_keeps_tensors_correct(monkeypatch, fresh_allocator_choice):
    monkeypatch.setenv("ARLEARN_MALLOC", "reuse")
    tune_cpu_allocator()  # True on glibc; False where mallopt does not exist — both are fine
    for _ in range(3):  # big blocks freed and reused (not returned to the kernel) hold new values
        a = torch.full((9_000_000,), 3.0)
        assert float(a.sum()) == 27_000_000.0
        del a


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS")) / 1024


def test_release_memory_gives_the_tuned_heaps_free_memory_back(monkeypatch, fresh_allocator_choice):
    # the tuned allocator keeps a freed 256 MB tensor's pages; release_memory returns them to the OS
    monkeypatch.setenv("ARLEARN_MALLOC", "reuse")
    if not tune_cpu_allocator():
        pytest.skip("no glibc mallopt here")
    a = torch.ones(64 << 20)  # 256 MB, every page touched
    del a
    held = _rss_mb()
    assert release_memory() is True
    assert held - _rss_mb() > 200


def test_cli_rejects_a_bad_allocator_choice_in_one_line(monkeypatch, capsys, fresh_allocator_choice):
    monkeypatch.setenv("ARLEARN_MALLOC", "tcmalloc")
    assert main(["list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ARLEARN_MALLOC" in err[0] and "'system'" in err[0]


def test_bf16_choice():
    assert use_bf16("fp32", torch.device("cpu")) is False
    assert use_bf16("bf16", torch.device("cpu")) is True


def test_flush_denormals_flushes_inside_the_block_and_restores_the_mode_after():
    import platform

    from arlearn.device import flush_denormals

    tiny = torch.tensor([1e-20])
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("flush-to-zero is an x86 (SSE3) setting")
    assert (tiny * tiny).item() > 0  # 1e-40: a subnormal float32, kept by default
    with flush_denormals() as ok:
        assert ok and (tiny * tiny).item() == 0.0
    assert (tiny * tiny).item() > 0  # restored: hypothesis and other callers see IEEE floats again
    main(["list"])  # the CLI flushes while it runs and restores the mode when it returns
    assert (tiny * tiny).item() > 0
