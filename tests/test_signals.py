"""SIGINT/SIGTERM stop a run promptly in every phase, not only once training has started."""

import os
import signal
import subprocess
import sys
import time

import pytest

from arlearn.errors import Interrupted
from arlearn.signals import StopFlag, check_stop


def test_check_stop_raises_only_after_a_signal():
    check_stop("nothing")  # no active flag: nothing happens
    with StopFlag() as stop:
        check_stop("work")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.name == "SIGINT"
        with pytest.raises(Interrupted, match="SIGINT during data generation"):
            check_stop("data generation")
    check_stop("after")  # the flag is gone with its block


@pytest.mark.slow
def test_sigint_during_data_generation_stops_the_run(tmp_path):
    cmd = [sys.executable, "-m", "arlearn", "train", "--preset", "quick", "--set", "train.train_examples=600000",
           "--set", "train.threads=1", "-o", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = ""
    deadline = time.time() + 120
    while "generating data" not in seen and time.time() < deadline:  # the bar says the phase began
        seen += proc.stderr.read(1)
    assert "generating data" in seen, seen[-500:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    t0 = time.time()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (seen + err)[-800:]
    assert time.time() - t0 < 30  # promptly: not after the whole pool (and not during training)
    assert "SIGINT during data generation" in err and "train:" not in err
    assert out == ""
