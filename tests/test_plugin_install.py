"""The example plug-in package (tests/plugin_example) installed — `pip install --no-deps` into a
temporary target, put on PYTHONPATH: no network — is found through its entry points alone (no
--plugin, no ARLEARN_PLUGINS): `arlearn list` shows its task and model class, and `train`, `eval`
and `sweep length` run on them at a tiny budget, in fresh processes (a run whose plug-in is
missing: tests/test_plugins.py)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent / "plugin_example"
ARLEARN = [sys.executable, "-m", "arlearn"]
TINY = ["--set", "train.threads=1", "--set", "train.warmup=5", "--set", "train.batch_size=32",
        "--set", "train.train_examples=256", "--set", "eval.examples=40", "--set", "task.n=6", "--no-progress"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(environment with the installed plug-in on PYTHONPATH, a working directory)."""
    tmp = tmp_path_factory.mktemp("plugin")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src)  # a setuptools build writes build/ and *.egg-info beside the sources
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--target", str(tmp / "site"), str(src)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(tmp / "site")}
    env.pop("ARLEARN_PLUGINS", None)
    work = tmp / "work"
    work.mkdir()
    return env, work


def arlearn(args, env, cwd) -> str:
    p = subprocess.run(ARLEARN + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


@pytest.mark.slow
def test_an_installed_plugin_is_found_by_its_entry_points(installed):
    env, work = installed
    listed = json.loads(arlearn(["list", "--json"], env, work))
    assert listed["tasks"]["majority"]["plugin"] == "arlearn_majority"
    assert listed["model_classes"]["bag"]["plugin"] == "arlearn_majority"

    res = json.loads(arlearn(["train", "--task", "majority", "--model", "bag", "--cot", "chunked", "--steps", "40",
                              "-o", "run", *TINY], env, work))
    assert res["model"] == "bag" and res["cot"] == "chunked" and res["cot_length"] == 1
    used = json.loads((work / "run" / "plugins.json").read_text())
    assert used["task"] == {"name": "majority", "module": "arlearn_majority", "distribution": "arlearn-majority",
                            "version": "0.1.0"}
    ev = json.loads(arlearn(["eval", "run", "--examples", "20"], env, work))
    assert ev["n"] >= 1 and 0.0 <= ev["exact_match"] <= 1.0

    sweep = json.loads(arlearn(["sweep", "length", "--task", "majority", "--models", "bag", "--cot", "none,running",
                                "--steps", "30", "--executor", "serial", "-o", "sweep", *TINY], env, work))
    assert sweep["cells"] == 2 and "bag" in sweep["length_complexity"]
