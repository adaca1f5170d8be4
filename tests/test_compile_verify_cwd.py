"""`arlearn verify` on a compiled .bench run works from any working directory.

The run directory keeps its own copy of the .bench file, recorded relative to the run directory;
verify must resolve it there (as `arlearn.rundir` does), not against the current directory.
"""

import json

import pytest

from arlearn.cli import main
from arlearn.compile import compile_bench, verify_run

TINY = """# a 3-input circuit: majority and parity
INPUT(a)
INPUT(b)
INPUT(c)
OUTPUT(maj)
OUTPUT(par)
ab = AND(a, b)
bc = AND(b, c)
ac = AND(a, c)
maj = OR(ab, bc, ac)
par = XOR(a, b, c)
"""


@pytest.mark.parametrize("dense", [True, False], ids=["dense", "packed-only"])
def test_verify_a_compiled_bench_run_from_another_directory(tmp_path, monkeypatch, capsys, dense):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "tiny.bench").write_text(TINY)
    monkeypatch.chdir(work)
    rep = compile_bench("tiny.bench", "runs/tiny", max_dense_bytes=(2 << 30) if dense else 0)
    assert rep.dense_written == dense
    run = work / "runs" / "tiny"
    assert (run / "tiny.bench").is_file()

    monkeypatch.chdir(elsewhere)  # where no tiny.bench exists
    v = verify_run(run)
    assert v["ok"] and v["exhaustive"] and v["checked"] == 8
    assert v["engines"] == (["packed", "dense"] if dense else ["packed"])
    capsys.readouterr()
    assert main(["verify", str(run), "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["mismatches"] == 0


def test_cli_compile_then_verify_from_another_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny.bench").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "circuit", "tiny.bench", "--max-dense-mb", "0", "-o", "run"]) == 0
    capsys.readouterr()
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    assert main(["verify", "../run", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
