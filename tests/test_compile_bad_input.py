"""Bad input to the compiler: a .bench file listing an output twice is one error naming the line;
a circuit whose dense model would not fit in memory is refused before anything is written, with
how much memory it needs and what to change."""

import pytest

from arlearn.circuits import CircuitBuilder, parse_bench, to_bench
from arlearn.cli import main
from arlearn.compile import build, compile_generator
from arlearn.errors import ArlearnError


def test_an_output_listed_twice_is_one_error_naming_the_line():
    text = "INPUT(a)\nINPUT(b)\nOUTPUT(z)\n# comment\nOUTPUT(z)\nz = AND(a, b)\n"
    with pytest.raises(ArlearnError) as e:
        parse_bench(text, where="dup.bench")
    msg = str(e.value)
    assert msg.startswith("dup.bench:5:") and "'z'" in msg and "twice" in msg and "line 3" in msg
    assert "\n" not in msg


def test_to_bench_refuses_what_it_could_not_read_back():
    b = CircuitBuilder()
    x, y = b.input("x"), b.input("y")
    z = b.gate("AND", x, y)
    b.output(z)
    b.output(z)
    with pytest.raises(ArlearnError, match="listed twice"):
        to_bench(b.build())


def test_a_dense_model_that_does_not_fit_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "available_memory", lambda: 100 << 20)  # 100 MB left
    called = []
    monkeypatch.setattr(build, "build_weights", lambda *a: called.append(a))
    with pytest.raises(ArlearnError) as e:
        compile_generator("mult16", tmp_path / "run")  # dense map ≈ 260 MB
    msg = str(e.value)
    assert "needs about" in msg and "100 MB is available" in msg and "max_dense_bytes below" in msg
    assert not called and not (tmp_path / "run").exists()


def test_the_cli_names_its_flag_and_packed_only_still_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "available_memory", lambda: 100 << 20)
    assert main(["compile", "circuit", "mult8", "-o", str(tmp_path / "small")]) == 0  # ≈ 5 MB: fits
    assert main(["compile", "circuit", "mult16", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--max-dense-mb below 258 " in err and "max_dense_bytes" not in err
    assert not (tmp_path / "run").exists()
    assert main(["compile", "circuit", "mult16", "--max-dense-mb", "0", "-o", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "compiled.safetensors").is_file()
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_available_memory_reads_something_here():
    avail = build.available_memory()
    assert avail is None or avail > 0
