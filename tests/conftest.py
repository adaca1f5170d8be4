"""Shared fixtures. Shared data lives outside the repo at ../shared/data (never committed)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder, or skip with the reason when this machine lacks it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _few_threads(monkeypatch):
    """Tests share a 2-core machine: keep torch to one thread per test process."""
    import torch

    torch.set_num_threads(1)
    yield
